/**
 * The volatile order of one sorted set: its members sorted by score, ties
 * by member bytes (memcmp, as Redis). The persistent truth is the sorted
 * set's member → score table in the heap; this index is a cache the
 * keyspace builds from it on first use after a start or resume and keeps
 * in step with every change.
 *
 * It is a two-level sorted list (as Python's sortedcontainers): blocks of
 * at most BLOCK_ENTRIES_MAX entries in order, each two parallel arrays
 * (members, scores). Finding a place is a binary search over the blocks'
 * last entries and one inside a block, an insert or removal a splice of
 * one block (a memmove of at most BLOCK_ENTRIES_MAX slots), a rank walk
 * skips whole blocks: O(log n + B) and O(n / B), with no object per member
 * beyond its bytes.
 *
 * @module
 */

/** Entries a block holds before it splits in two. */
export const BLOCK_ENTRIES_MAX = 512;

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

/** A run of entries in order. */
interface Block {
  members: Uint8Array[];
  scores: number[];
}

/** The sorted order of one sorted set (volatile). */
export class ZsetIndex {
  private readonly blocks: Block[] = [];
  private count = 0;

  /** An index of `entries` (any order; each member a copy the index may keep). */
  static build(entries: Array<[Uint8Array, number]>): ZsetIndex {
    entries.sort((a, b) => compareEntries(a[1], a[0], b[1], b[0]));
    const index = new ZsetIndex();
    const step = BLOCK_ENTRIES_MAX / 2;
    for (let i = 0; i < entries.length; i += step) {
      const part = entries.slice(i, i + step);
      index.blocks.push({ members: part.map((e) => e[0]), scores: part.map((e) => e[1]) });
    }
    index.count = entries.length;
    return index;
  }

  /** Members in the index. */
  get size(): number {
    return this.count;
  }

  /** Inserts `member` (a copy the index may keep) with `score`. */
  insert(member: Uint8Array, score: number): void {
    if (this.blocks.length === 0) {
      this.blocks.push({ members: [member], scores: [score] });
      this.count = 1;
      return;
    }
    const b = Math.min(this.blockOf(score, member), this.blocks.length - 1);
    const block = this.blocks[b];
    const at = lowerBound(block, score, member);
    block.members.splice(at, 0, member);
    block.scores.splice(at, 0, score);
    this.count++;
    if (block.members.length > BLOCK_ENTRIES_MAX) {
      const half = block.members.length >>> 1;
      this.blocks.splice(b + 1, 0, {
        members: block.members.splice(half),
        scores: block.scores.splice(half),
      });
    }
  }

  /** Removes `member`, whose score is `score`; false when it was not there. */
  remove(member: Uint8Array, score: number): boolean {
    const b = this.blockOf(score, member);
    if (b >= this.blocks.length) return false;
    const block = this.blocks[b];
    const at = lowerBound(block, score, member);
    if (at >= block.members.length) return false;
    if (compareEntries(block.scores[at], block.members[at], score, member) !== 0) return false;
    block.members.splice(at, 1);
    block.scores.splice(at, 1);
    if (block.members.length === 0) this.blocks.splice(b, 1);
    this.count--;
    return true;
  }

  /** Appends the entries of ranks start…stop (clipped to the size) to `out`, lowest first. */
  range(start: number, stop: number, out: Array<[Uint8Array, number]>): void {
    let rank = 0;
    let b = 0;
    while (b < this.blocks.length && rank + this.blocks[b].members.length <= start) {
      rank += this.blocks[b].members.length;
      b++;
    }
    for (; b < this.blocks.length && rank <= stop; b++) {
      const { members, scores } = this.blocks[b];
      const from = Math.max(0, start - rank);
      const to = Math.min(members.length - 1, stop - rank);
      for (let i = from; i <= to; i++) out.push([members[i], scores[i]]);
      rank += members.length;
    }
  }

  /** Removes the `n` lowest entries (n ≤ size), appending them to `out`. */
  popMin(n: number, out: Array<[Uint8Array, number]>): void {
    while (n > 0) {
      const block = this.blocks[0];
      const take = Math.min(n, block.members.length);
      for (let i = 0; i < take; i++) out.push([block.members[i], block.scores[i]]);
      if (take === block.members.length) this.blocks.shift();
      else {
        block.members.splice(0, take);
        block.scores.splice(0, take);
      }
      this.count -= take;
      n -= take;
    }
  }

  /** The first block whose last entry is not below (score, member); blocks.length when none. */
  private blockOf(score: number, member: Uint8Array): number {
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const { members, scores } = this.blocks[mid];
      const last = members.length - 1;
      if (compareEntries(scores[last], members[last], score, member) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The first position in `block` whose entry is not below (score, member). */
function lowerBound(block: Block, score: number, member: Uint8Array): number {
  const { members, scores } = block;
  let lo = 0;
  let hi = members.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareEntries(scores[mid], members[mid], score, member) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
