/**
 * Per partition: which offsets were handed out, which are done, and therefore which offset
 * may be committed — the one after the highest *contiguous* done offset, never more.
 *
 * Offsets arrive in increasing order per partition but may have gaps (compaction, transaction
 * markers), so the tracker only reasons about offsets it handed out.
 *
 * @example
 * ```ts
 * import { OffsetTracker } from 'docpipe';
 * const tracker = new OffsetTracker();
 * tracker.assign([{ topic: 't', partition: 0 }]);
 * const a = tracker.handOut('t', 0, 5, 100);
 * const b = tracker.handOut('t', 0, 6, 100);
 * b();                      // done out of order: nothing committable yet
 * a();                      // now 5 and 6 are done
 * tracker.committable();    // [{ topic: 't', partition: 0, offset: 7 }]
 * ```
 */
export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface CommitPosition extends TopicPartition {
  /** The next offset to read: highest contiguous done offset + 1. */
  offset: number;
}

/** State of one owned partition. A new object per assignment, so acks from an earlier
 * assignment of the same partition can be recognised and ignored. */
/** Why work on a record stopped: its partition went to another member, which reads it again. */
export class PartitionReleasedError extends Error {
  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    super(`${topic}[${partition}] was revoked; its next owner reads these records again`);
    this.name = 'PartitionReleasedError';
  }
}

class PartitionState {
  /** Handed-out offsets not yet passed by the commit position, in order. */
  readonly pending: number[] = [];
  /** Index of the first entry of `pending` still relevant (avoids shifting the array). */
  head = 0;
  /** Done flags for offsets in `pending`. */
  readonly doneOffsets = new Set<number>();
  /** Next offset to commit, once known (-1: nothing done yet). */
  position = -1;
  /** Position last committed (or -1). */
  committed = -1;
  /** Position last sent to the broker and not yet confirmed or refused (or -1). */
  sent = -1;
  owned = true;
  inFlight = 0;
  /** Aborted when this member lets go of the partition: work on its records is no one's wish then. */
  readonly release = new AbortController();

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Since when the oldest record not done has been the oldest (the commit position has not moved). */
  headSince = 0;
  /** True while the partition is held at its limit of records outstanding. */
  held = false;

  /** Records handed out that the commit position has not passed: in flight, or done behind one that is not. */
  get outstanding(): number {
    return this.pending.length - this.head;
  }

  /** Marks `offset` done; true when the commit position moved. */
  markDone(offset: number): boolean {
    this.doneOffsets.add(offset);
    this.inFlight--;
    const before = this.head;
    while (this.head < this.pending.length && this.doneOffsets.has(this.pending[this.head]!)) {
      const o = this.pending[this.head]!;
      this.doneOffsets.delete(o);
      this.position = o + 1;
      this.head++;
    }
    const moved = this.head !== before;
    if (moved) this.headSince = Date.now();
    // Compact now and then so the array does not grow without end.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return moved;
  }
}

/** A partition whose oldest record is not done while later ones are: the commit cannot move past it. */
export interface StuckRecord extends TopicPartition {
  /** The record the commit waits for. */
  offset: number;
  /** How long it has been the oldest not done. */
  seconds: number;
  /** Records handed out since it, done or not. */
  outstanding: number;
  /** True when the partition is held (paused) at its limit of records outstanding. */
  held: boolean;
}

const keyOf = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

export interface TrackerListener {
  /** A record handed out earlier is done (or abandoned); `bytes` is what it held. */
  released(bytes: number): void;
  /** A partition reached its limit of records outstanding: hold it until its oldest record is done. */
  limitReached?(record: StuckRecord): void;
  /** The oldest record of a held partition is done: it may go on. */
  limitCleared?(tp: TopicPartition): void;
}

export interface TrackerOptions {
  /**
   * Records of one partition handed out and not yet passed by its commit position, at most
   * (like a checkpoint limit). One record that never finishes would otherwise make the
   * partition's bookkeeping grow with every later record.
   */
  maxOutstanding?: number;
}

/** The default limit of records outstanding per partition: above the process-wide budget, so healthy flow never meets it. */
export const DEFAULT_MAX_OUTSTANDING = 10_000;

export class OffsetTracker {
  /** Owned partitions, by topic and partition. */
  private readonly partitions = new Map<string, PartitionState>();
  /** Records handed out and not done, over all partitions (owned or not). */
  private inFlightTotal = 0;
  /** The partition looked up last: a poll's records come in runs of one partition. */
  private last: PartitionState | undefined;

  private readonly maxOutstanding: number;

  constructor(
    private readonly listener: TrackerListener = { released: () => {} },
    options: TrackerOptions = {},
  ) {
    this.maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
  }

  assign(tps: readonly TopicPartition[]): void {
    for (const { topic, partition } of tps) {
      const key = keyOf(topic, partition);
      if (!this.partitions.has(key)) this.partitions.set(key, new PartitionState(topic, partition));
    }
  }

  /**
   * Forgets partitions this member no longer owns. Their records still in flight will finish
   * (and release their budget) but can no longer move a commit: the new owner re-reads them.
   */
  revoke(tps: readonly TopicPartition[]): void {
    for (const { topic, partition } of tps) {
      const key = keyOf(topic, partition);
      const state = this.partitions.get(key);
      if (state) {
        state.owned = false;
        state.release.abort(new PartitionReleasedError(topic, partition));
      }
      this.partitions.delete(key);
    }
  }

  /** Aborted once `topic[partition]` is revoked; undefined when it is not assigned. */
  releaseSignal(topic: string, partition: number): AbortSignal | undefined {
    return this.stateOf(topic, partition)?.release.signal;
  }

  /** Owned partitions whose oldest record is not done while a later one is, for at least `minSeconds`. */
  stuck(minSeconds = 0, now = Date.now()): StuckRecord[] {
    const out: StuckRecord[] = [];
    for (const s of this.partitions.values()) {
      // Something later is done while the head is not: the head holds the commit back.
      if (s.outstanding > s.inFlight || s.held) {
        const r = this.stuckOf(s, now);
        if (r.seconds >= minSeconds) out.push(r);
      }
    }
    return out;
  }

  private stuckOf(s: PartitionState, now: number): StuckRecord {
    return {
      topic: s.topic,
      partition: s.partition,
      offset: s.pending[s.head]!,
      seconds: Math.max(0, (now - s.headSince) / 1000),
      outstanding: s.outstanding,
      held: s.held,
    };
  }

  owns(topic: string, partition: number): boolean {
    return this.stateOf(topic, partition) !== undefined;
  }

  private stateOf(topic: string, partition: number): PartitionState | undefined {
    const last = this.last;
    // A revoked state is never owned again (a new assignment gets a new one), so this cannot
    // return a partition this member has let go of.
    if (last !== undefined && last.owned && last.partition === partition && last.topic === topic) return last;
    const state = this.partitions.get(keyOf(topic, partition));
    if (state) this.last = state;
    return state;
  }

  /**
   * Registers a fetched record and returns its `done` function (idempotent). Offsets of one
   * partition must be handed out in increasing order.
   */
  handOut(topic: string, partition: number, offset: number, bytes: number): () => void {
    const state = this.stateOf(topic, partition);
    if (!state) throw new Error(`offset tracker: ${topic}[${partition}] is not assigned to this member`);
    const last = state.pending[state.pending.length - 1];
    if (last !== undefined && offset <= last) {
      throw new Error(`offset tracker: ${topic}[${partition}] offset ${offset} handed out after ${last}`);
    }
    if (state.outstanding === 0) state.headSince = Date.now();
    state.pending.push(offset);
    state.inFlight++;
    this.inFlightTotal++;
    if (!state.held && state.outstanding >= this.maxOutstanding) {
      state.held = true;
      this.listener.limitReached?.(this.stuckOf(state, Date.now()));
    }
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      this.inFlightTotal--;
      // After a revoke (or a revoke and a new assignment) this state object is detached: the
      // ack must not move the commit position of a partition someone else now owns.
      if (!state.owned) state.inFlight--;
      else if (state.markDone(offset) && state.held && state.outstanding < this.maxOutstanding) {
        state.held = false;
        this.listener.limitCleared?.({ topic: state.topic, partition: state.partition });
      }
      this.listener.released(bytes);
    };
  }

  /**
   * Positions that moved since they were last committed and are not on their way already,
   * for owned partitions only.
   */
  committable(filter?: readonly TopicPartition[]): CommitPosition[] {
    const states = filter ? filter.map(({ topic, partition }) => this.partitions.get(keyOf(topic, partition))) : [...this.partitions.values()];
    const out: CommitPosition[] = [];
    for (const s of states) {
      if (s && s.position > s.committed && s.position > s.sent) out.push({ topic: s.topic, partition: s.partition, offset: s.position });
    }
    return out;
  }

  /** Records that these positions were sent to the broker; they wait for its answer. */
  markSent(positions: readonly CommitPosition[]): void {
    for (const p of positions) {
      const s = this.partitions.get(keyOf(p.topic, p.partition));
      if (s && p.offset > s.sent) s.sent = p.offset;
    }
  }

  /** Records that the broker accepted these positions. */
  markCommitted(positions: readonly CommitPosition[]): void {
    for (const p of positions) {
      const s = this.partitions.get(keyOf(p.topic, p.partition));
      if (s && p.offset > s.committed) s.committed = p.offset;
    }
  }

  /** Records that the broker refused these positions: the next commit sends them again. */
  markRefused(positions: readonly CommitPosition[]): void {
    for (const p of positions) {
      const s = this.partitions.get(keyOf(p.topic, p.partition));
      if (s && p.offset >= s.sent) s.sent = s.committed;
    }
  }

  /** Records handed out and not yet done, in total or for the given partitions. */
  inFlight(filter?: readonly TopicPartition[]): number {
    if (!filter) return this.inFlightTotal;
    let n = 0;
    for (const { topic, partition } of filter) n += this.partitions.get(keyOf(topic, partition))?.inFlight ?? 0;
    return n;
  }

  assigned(): TopicPartition[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }
}
