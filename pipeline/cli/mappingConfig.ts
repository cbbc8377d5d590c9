/**
 * The `mapping` of a config file (or `DOCPIPE_MAPPING`, or `--mapping`, as JSON): your table's
 * key and columns, each column's type and the JSON field (or dotted path) it comes from. Every
 * error names the key that holds it, e.g. `config key "mapping.columns.total.type"`.
 *
 * @example
 * ```ts
 * import { parseMapping } from './mappingConfig.js';
 * parseMapping({ key: ['id'], columns: { id: { type: 'bigint' }, name: { type: 'string', from: 'customer.name' } } }, 'config key "mapping"');
 * ```
 */
import { COLUMN_TYPES, compileMapping, MappingError, type ColumnDef, type TableMapping } from '../../sinks/tableMapping.js';
import { ConfigError } from './env.js';

type Doc = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const shown = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));

/** `name` is how the mapping was given, e.g. `config key "mapping"` or `DOCPIPE_MAPPING`. */
export const parseMapping = (value: unknown, name: string): TableMapping<Doc> => {
  const at = (path: string): string => (name.startsWith('config key "') ? `config key "mapping${path}"` : `${name} (at mapping${path})`);
  if (!isObject(value)) throw new ConfigError(name, 'an object with key, columns and optionally mode', shown(value));
  for (const k of Object.keys(value)) {
    if (!['key', 'columns', 'mode'].includes(k))
      throw new ConfigError(at(`.${k}`), 'one of key, columns, mode', k, `${at(`.${k}`)} is not a mapping setting (key, columns, mode)`);
  }
  const key = typeof value.key === 'string' ? [value.key] : value.key;
  if (!Array.isArray(key) || key.length === 0 || !key.every((k) => typeof k === 'string')) {
    throw new ConfigError(at('.key'), 'a column name, or a list of them', shown(value.key));
  }
  if (value.mode !== undefined && value.mode !== 'upsert' && value.mode !== 'insert') throw new ConfigError(at('.mode'), 'upsert or insert', shown(value.mode));
  if (!isObject(value.columns) || Object.keys(value.columns).length === 0) {
    throw new ConfigError(at('.columns'), 'an object of columns, each { type, from?, optional?, length? }', shown(value.columns));
  }
  const columns: Record<string, ColumnDef<Doc>> = {};
  for (const [column, def] of Object.entries(value.columns)) {
    const here = `.columns.${column}`;
    // A column given as a bare type reads the field of its own name.
    const d = typeof def === 'string' ? { type: def } : def;
    if (!isObject(d)) throw new ConfigError(at(here), 'a type, or { type, from?, optional?, length? }', shown(def));
    for (const k of Object.keys(d)) {
      if (!['type', 'from', 'optional', 'length'].includes(k))
        throw new ConfigError(
          at(`${here}.${k}`),
          'one of type, from, optional, length',
          k,
          `${at(`${here}.${k}`)} is not a column setting (type, from, optional, length)`,
        );
    }
    if (typeof d.type !== 'string' || !(COLUMN_TYPES as readonly string[]).includes(d.type))
      throw new ConfigError(at(`${here}.type`), `one of ${COLUMN_TYPES.join(', ')}`, shown(d.type));
    if (d.from !== undefined && (typeof d.from !== 'string' || !/^[^.]+(\.[^.]+)*$/.test(d.from)))
      throw new ConfigError(at(`${here}.from`), 'a JSON field name or a dotted path (a.b.c)', shown(d.from));
    if (d.optional !== undefined && typeof d.optional !== 'boolean') throw new ConfigError(at(`${here}.optional`), 'true or false', shown(d.optional));
    if (d.length !== undefined && (typeof d.length !== 'number' || !Number.isInteger(d.length) || d.length < 1 || d.length > 16_383)) {
      throw new ConfigError(at(`${here}.length`), 'a whole number from 1 to 16383', shown(d.length));
    }
    columns[column] = {
      type: d.type as ColumnDef<Doc>['type'],
      ...(d.from !== undefined && { from: d.from }),
      ...(d.optional !== undefined && { optional: d.optional }),
      ...(d.length !== undefined && { length: d.length }),
    };
  }
  const mapping: TableMapping<Doc> = { key: key, columns, ...(value.mode !== undefined && { mode: value.mode }) };
  try {
    compileMapping(mapping);
  } catch (err) {
    if (!(err instanceof MappingError)) throw err;
    throw new ConfigError(name, 'a mapping that fits', '', `${name}: ${err.message}`);
  }
  return mapping;
};
