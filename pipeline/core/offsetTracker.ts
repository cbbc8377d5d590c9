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

  markDone(offset: number): void {
    this.doneOffsets.add(offset);
    this.inFlight--;
    while (this.head < this.pending.length && this.doneOffsets.has(this.pending[this.head]!)) {
      const o = this.pending[this.head]!;
      this.doneOffsets.delete(o);
      this.position = o + 1;
      this.head++;
    }
    // Compact now and then so the array does not grow without end.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

const keyOf = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

export interface TrackerListener {
  /** A record handed out earlier is done (or abandoned); `bytes` is what it held. */
  released(bytes: number): void;
}

export class OffsetTracker {
  /** Owned partitions, by topic and partition. */
  private readonly partitions = new Map<string, PartitionState>();
  /** Records handed out and not done, over all partitions (owned or not). */
  private inFlightTotal = 0;
  /** The partition looked up last: a poll's records come in runs of one partition. */
  private last: PartitionState | undefined;

  constructor(private readonly listener: TrackerListener = { released: () => {} }) {}

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
    state.pending.push(offset);
    state.inFlight++;
    this.inFlightTotal++;
    let finished = false;
    return () => {
      if (finished) return;
      finished = true;
      this.inFlightTotal--;
      // After a revoke (or a revoke and a new assignment) this state object is detached: the
      // ack must not move the commit position of a partition someone else now owns.
      if (state.owned) state.markDone(offset);
      else state.inFlight--;
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
