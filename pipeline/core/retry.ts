/**
 * Retries an async operation on errors its classifier calls transient, with exponential
 * backoff and full jitter, until it succeeds, a non-transient error occurs, the attempts run
 * out (then {@link RetriesExceededError}), or the signal aborts.
 *
 * @example
 * ```ts
 * const rows = await retry(() => knex('t').select(), {
 *   isTransient: (e) => (e as { code?: string }).code === 'ER_LOCK_DEADLOCK',
 * });
 * ```
 */
export interface RetryOptions {
  isTransient: (error: unknown) => boolean;
  /** First delay; doubles each attempt up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts after the first; Infinity to wait out any outage. */
  maxRetries?: number;
  /** How long after the first failure retrying goes on (default: no limit). */
  maxElapsedMs?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** For tests: where randomness comes from. */
  random?: () => number;
}

export class RetriesExceededError extends Error {
  constructor(
    readonly attempts: number,
    override readonly cause: unknown,
    /** Time from the first failure to giving up. */
    readonly elapsedMs = 0,
  ) {
    super(`gave up after ${attempts} attempts: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'RetriesExceededError';
  }
}

export const backoffDelay = (attempt: number, initial: number, max: number, random: () => number): number =>
  // Full jitter: spreads retries of concurrent writers so they do not collide again.
  Math.round(random() * Math.min(max, initial * 2 ** Math.min(attempt - 1, 30)));

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const retry = async <T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> => {
  const initial = options.initialDelayMs ?? 100;
  const max = options.maxDelayMs ?? 10_000;
  const maxRetries = options.maxRetries ?? Infinity;
  const random = options.random ?? Math.random;
  const maxElapsed = options.maxElapsedMs ?? Infinity;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!options.isTransient(error)) throw error;
      firstFailure ??= Date.now();
      const elapsed = Date.now() - firstFailure;
      if (attempt > maxRetries || elapsed >= maxElapsed) throw new RetriesExceededError(attempt, error, elapsed);
      // The last wait ends at the limit, so that giving up comes on time, not a backoff later.
      const delay = Math.min(backoffDelay(attempt, initial, max, random), maxElapsed - elapsed);
      options.onRetry?.(error, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
};
