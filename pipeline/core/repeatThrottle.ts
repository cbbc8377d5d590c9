/**
 * Lets the first occurrence of each kind of event through, then at most one per `windowMs`,
 * saying how many were held back since the last one let through. For logs of conditions that
 * repeat while they last: librdkafka reports "all broker connections are down" on every failed
 * reconnect, several times a second while a broker is away.
 *
 * @example
 * ```ts
 * const pass = repeatThrottle(30_000);
 * const held = pass('ALL_BROKERS_DOWN');
 * if (held !== undefined) log.warn({ repeated: held }, 'all broker connections are down');
 * ```
 */
export const repeatThrottle = (windowMs: number, now: () => number = Date.now): ((kind: string) => number | undefined) => {
  const kinds = new Map<string, { passedAt: number; held: number }>();
  return (kind) => {
    const t = now();
    const seen = kinds.get(kind);
    if (seen === undefined) {
      kinds.set(kind, { passedAt: t, held: 0 });
      return 0;
    }
    if (t - seen.passedAt < windowMs) {
      seen.held++;
      return undefined;
    }
    const held = seen.held;
    seen.passedAt = t;
    seen.held = 0;
    return held;
  };
};
