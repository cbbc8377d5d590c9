/**
 * Where a pipeline is in its life, as one value with the moves each phase allows, so that a
 * stop request, a drain deadline, a fatal error and the chain's end cannot cross each other:
 *
 * - running → draining (a stop request), finishing (the chain ended by itself), failing
 * - draining → finishing (the chain ended), abandoning (a second stop, the drain deadline), failing
 * - finishing (dead letters still on their way) → releasing, abandoning, failing
 * - releasing (closing the clients) → stopped, abandoning (a second stop)
 * - abandoning, failing → stopped
 *
 * Nothing abandons a failing pipeline, whose `done` must reject with its error.
 *
 * @example
 * ```ts
 * const state = new StopState();
 * state.move('draining'); // true: the first stop
 * state.move('draining'); // false: already draining
 * state.move('abandoning'); // true: the second stop
 * ```
 */
export type StopPhase = 'running' | 'draining' | 'finishing' | 'abandoning' | 'failing' | 'releasing' | 'stopped';

const MOVES: Record<StopPhase, readonly StopPhase[]> = {
  running: ['draining', 'finishing', 'failing'],
  draining: ['finishing', 'abandoning', 'failing'],
  finishing: ['releasing', 'abandoning', 'failing'],
  abandoning: ['stopped'],
  failing: ['stopped'],
  releasing: ['abandoning', 'stopped'],
  stopped: [],
};

export class StopState {
  private current: StopPhase = 'running';

  get phase(): StopPhase {
    return this.current;
  }

  /** Moves to `to` if the current phase allows it; says whether it did. */
  move(to: StopPhase): boolean {
    if (!MOVES[this.current].includes(to)) return false;
    this.current = to;
    return true;
  }
}
