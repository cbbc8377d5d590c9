/**
 * The client behind a knex instance, which knex's types leave as `any`: the members docpipe
 * uses, typed. A connection taken from its pool is the driver's own (a mysql2 connection or a
 * better-sqlite3 database), for work outside the query builder; the caller knows which.
 */
import type { Knex } from 'knex';

export interface KnexClient {
  readonly config: Knex.Config;
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

export const knexClient = (knex: Knex): KnexClient => knex.client as KnexClient;
