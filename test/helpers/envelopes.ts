/**
 * An envelope for operator and sink tests: `payload` at `offset` of partition 0 of topic 't',
 * no key, value or headers, and a `done` that does nothing; `fields` overrides any of that.
 */
import type { Envelope } from '../../pipeline/core/envelope.js';

export const envelopeOf = <T>(payload: T, offset = 0, fields: Partial<Omit<Envelope<T>, 'payload' | 'offset'>> = {}): Envelope<T> => ({
  payload,
  value: null,
  key: null,
  topic: 't',
  partition: 0,
  offset,
  headers: [],
  timestamp: 0,
  size: 0,
  done: () => {},
  ...fields,
});
