/**
 * The volatile order of one sorted set: its members sorted by score, ties
 * by member bytes (memcmp, as Redis), in two parallel JS arrays. The
 * persistent truth is the sorted set's member → score table in the heap;
 * this index is a cache the keyspace builds from it on first use after a
 * start or resume and keeps in step with every change. Rank lookups are
 * O(1), finding a place O(log n), an insert or removal one array splice
 * (a memmove: cheap at the sizes redis-benchmark and clients use; a
 * skiplist would make it O(log n) at the cost of an object per member).
 *
 * @module
 */

/** Orders (score, member) pairs: by score, then by member bytes. */
export function compareEntries(sa: number, ma: Uint8Array, sb: number, mb: Uint8Array): number {
  if (sa < sb) return -1;
  if (sa > sb) return 1;
  const n = Math.min(ma.length, mb.length);
  for (let i = 0; i < n; i++) {
    if (ma[i] !== mb[i]) return ma[i] - mb[i];
  }
  return ma.length - mb.length;
}

/** The sorted order of one sorted set (volatile). */
export class ZsetIndex {
  /** Members in order. */
  readonly members: Uint8Array[] = [];
  /** Their scores, in the same order. */
  readonly scores: number[] = [];

  /** An index of `entries` (any order). */
  static build(entries: Array<[Uint8Array, number]>): ZsetIndex {
    entries.sort((a, b) => compareEntries(a[1], a[0], b[1], b[0]));
    const index = new ZsetIndex();
    for (const [m, s] of entries) {
      index.members.push(m);
      index.scores.push(s);
    }
    return index;
  }

  /** Members in the index. */
  get size(): number {
    return this.members.length;
  }

  /** Inserts `member` (a copy the index may keep) with `score`. */
  insert(member: Uint8Array, score: number): void {
    const at = this.lowerBound(score, member);
    this.members.splice(at, 0, member);
    this.scores.splice(at, 0, score);
  }

  /** Removes `member`, whose score is `score`; false when it was not there. */
  remove(member: Uint8Array, score: number): boolean {
    const at = this.lowerBound(score, member);
    if (at >= this.members.length) return false;
    if (compareEntries(this.scores[at], this.members[at], score, member) !== 0) return false;
    this.members.splice(at, 1);
    this.scores.splice(at, 1);
    return true;
  }

  /** The first position whose entry is not below (score, member). */
  private lowerBound(score: number, member: Uint8Array): number {
    let lo = 0;
    let hi = this.members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEntries(this.scores[mid], this.members[mid], score, member) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
