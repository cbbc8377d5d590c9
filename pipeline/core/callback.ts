/**
 * Turns a call that takes a node-style callback into a promise; for the Kafka client, whose
 * methods take callbacks of many shapes that `util.promisify` cannot type.
 *
 * @example
 * ```ts
 * const offsets = await callback<WatermarkOffsets>((cb) => consumer.queryWatermarkOffsets(topic, 0, 10_000, cb));
 * ```
 */
export const callback = <T>(fn: (cb: (err: unknown, value: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) =>
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the callback's error is passed on as it came
    fn((err, value) => (err ? reject(err) : resolve(value))),
  );
