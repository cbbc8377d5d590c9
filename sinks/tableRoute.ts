/**
 * Which table a record goes to: one name, a name with `${topic}` in it — each topic its own
 * table — or a function of the record. A topic may hold characters a table name cannot
 * (`.` and `-` are common): each character other than a letter, a digit or `_` becomes `_`.
 *
 * @example
 * ```ts
 * import { tableFor, topicTableName } from 'docpipe/sinks';
 * topicTableName('shop.orders-eu'); // 'shop_orders_eu'
 * tableFor('raw_${topic}').forTopic?.('shop.orders'); // 'raw_shop_orders'
 * ```
 */
import type { Envelope } from '../pipeline/core/envelope.js';
import type { Deletion } from '../pipeline/core/documentVersion.js';

export type TableRoute<T> = string | ((record: Envelope<T | Deletion>) => string);

const TABLE = /^[A-Za-z0-9_]{1,64}$/;

/** The part of a table name a topic stands for. */
export const topicTableName = (topic: string): string => topic.replace(/[^A-Za-z0-9_]/g, '_');

export const checkTableName = (table: string): string => {
  if (!TABLE.test(table)) throw new Error(`table must be 1-64 letters, digits or '_', got ${JSON.stringify(table)}`);
  return table;
};

export interface ResolvedRoute<T> {
  of(record: Envelope<T | Deletion>): string;
  /** The table, when every record goes to the same one. */
  fixed?: string;
  /** The table of a topic's records, when the route depends on the topic only. */
  forTopic?: (topic: string) => string;
}

export const tableFor = <T>(route: TableRoute<T>): ResolvedRoute<T> => {
  if (typeof route === 'function') return { of: (record) => checkTableName(route(record)) };
  if (!route.includes('${topic}')) {
    const fixed = checkTableName(route);
    return { of: () => fixed, fixed };
  }
  // Only the template is checked here; a topic's name makes the rest.
  checkTableName(route.replaceAll('${topic}', 'x'));
  const forTopic = (topic: string): string => checkTableName(route.replaceAll('${topic}', topicTableName(topic)));
  const cache = new Map<string, string>();
  return {
    of: (record) => {
      let table = cache.get(record.topic);
      if (table === undefined) cache.set(record.topic, (table = forTopic(record.topic)));
      return table;
    },
    forTopic,
  };
};
