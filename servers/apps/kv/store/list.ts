/**
 * Lists of the store: a deque of chunk blocks in the heap, each holding up
 * to CHUNK_VALUES_MAX packed values (as Redis's quicklist of listpacks), so
 * a push or pop at either end is O(1) and touches one chunk.
 *
 * A list is a 16-byte header block: head chunk u32, tail chunk u32, values
 * u32, chunks u32. A chunk: prev u32, next u32, values u32, and the byte
 * offsets (from the chunk) of its first and past-its-last data byte; the
 * data sits between, with free room on both sides, so a left push writes
 * before the first value and a right push after the last. A value is
 * `[len u8] bytes [len u8]` when shorter than 128 bytes, else
 * `[0x80][len u32] bytes [len u32][0x80]`: the length at both ends lets a
 * pop from either side find its value.
 *
 * A list's first chunk starts small and doubles while it fills, up to
 * CHUNK_BYTES; then new chunks of CHUNK_BYTES are added (a value too large
 * for one gets a chunk of its own size).
 *
 * @module
 */

import { copyOut } from "../../../pmem/copy_out.ts";
import { assert } from "../../../../kernel/abi/errors.ts";
import type { ListEnd } from "../keyspace.ts";
import type { PersistentHeap } from "../../../pmem/heap.ts";

/** Bytes of a full chunk block. */
export const CHUNK_BYTES = 2048;
/** Values a chunk holds at most (bounds the walk of an index inside a chunk). */
export const CHUNK_VALUES_MAX = 1024;
/** Size of a list's header block. */
export const LIST_HEADER_BYTES = 16;

const L_HEAD = 0;
const L_TAIL = 4;
const L_LENGTH = 8;
const L_CHUNKS = 12;
const C_PREV = 0;
const C_NEXT = 4;
const C_COUNT = 8;
const C_START = 12;
const C_END = 16;
const C_DATA = 20;
const CHUNK_BYTES_MIN = 64;

/** Receives one value of a range: bytes[from, from+length), valid during the call only. */
export type RangeSink = (bytes: Uint8Array, from: number, length: number) => void;

/** Bytes one value of `len` bytes takes in a chunk. */
function entryBytes(len: number): number {
  return len < 128 ? len + 2 : len + 10;
}

/**
 * Operations on persistent lists in one heap (lists are addresses).
 *
 * @example
 * ```ts
 * const lists = new Lists(heap);
 * const l = lists.create();
 * lists.push(l, "right", value);
 * lists.pop(l, "left"); // value
 * ```
 */
export class Lists {
  private readonly mem;
  private readonly bytes: Uint8Array;

  constructor(private readonly heap: PersistentHeap) {
    this.mem = heap.mem;
    this.bytes = heap.mem.bytes;
  }

  /** A new empty list. */
  create(): number {
    const l = this.heap.alloc(LIST_HEADER_BYTES);
    this.mem.fill(l, LIST_HEADER_BYTES);
    return l;
  }

  /** Values in list `l`. */
  length(l: number): number {
    return this.mem.getU32(l + L_LENGTH);
  }

  /** Frees list `l` and every chunk. */
  destroy(l: number): void {
    const mem = this.mem;
    let c = mem.getU32(l + L_HEAD);
    while (c !== 0) {
      const next = mem.getU32(c + C_NEXT);
      this.heap.free(c);
      c = next;
    }
    this.heap.free(l);
  }

  /** Pushes `value` at `end`; throws E_NO_MEMORY, changing nothing, when it does not fit. */
  push(l: number, end: ListEnd, value: Uint8Array): void {
    const mem = this.mem;
    const need = entryBytes(value.length);
    const right = end === "right";
    let c = mem.getU32(l + (right ? L_TAIL : L_HEAD));
    if (c === 0 || !this.room(c, need, right)) c = this.makeRoom(l, c, need, right);
    let at: number;
    if (right) {
      at = c + mem.getU32(c + C_END);
      mem.setU32(c + C_END, at + need - c);
    } else {
      at = c + mem.getU32(c + C_START) - need;
      mem.setU32(c + C_START, at - c);
    }
    this.writeEntry(at, value);
    mem.setU32(c + C_COUNT, mem.getU32(c + C_COUNT) + 1);
    mem.setU32(l + L_LENGTH, mem.getU32(l + L_LENGTH) + 1);
  }

  /** Pops the value at `end` of non-empty list `l`. */
  pop(l: number, end: ListEnd): Uint8Array {
    const mem = this.mem;
    const b = this.bytes;
    const right = end === "right";
    const c = mem.getU32(l + (right ? L_TAIL : L_HEAD));
    assert(c !== 0, "Lists.pop", "the list is empty");
    let value: Uint8Array;
    if (right) {
      const stop = c + mem.getU32(c + C_END);
      const last = b[stop - 1];
      const len = last < 128 ? last : mem.getU32(stop - 5);
      const from = last < 128 ? stop - 1 - len : stop - 5 - len;
      value = copyOut(b, from, len);
      mem.setU32(c + C_END, stop - entryBytes(len) - c);
    } else {
      const start = c + mem.getU32(c + C_START);
      const first = b[start];
      const len = first < 128 ? first : mem.getU32(start + 1);
      const from = first < 128 ? start + 1 : start + 5;
      value = copyOut(b, from, len);
      mem.setU32(c + C_START, start + entryBytes(len) - c);
    }
    const count = mem.getU32(c + C_COUNT) - 1;
    mem.setU32(c + C_COUNT, count);
    mem.setU32(l + L_LENGTH, mem.getU32(l + L_LENGTH) - 1);
    if (count === 0) this.unlinkChunk(l, c);
    return value;
  }

  /** The value at `index` (0 ≤ index < length). */
  at(l: number, index: number): Uint8Array {
    const out: Uint8Array[] = [];
    this.range(l, index, index, out);
    return out[0];
  }

  /** Appends values start…stop (0 ≤ start ≤ stop < length) to `out`, each a copy. */
  range(l: number, start: number, stop: number, out: Uint8Array[]): void {
    this.rangeEach(l, start, stop, (b, from, len) => out.push(copyOut(b, from, len)));
  }

  /**
   * Calls `each(bytes, from, length)` for values start…stop (0 ≤ start ≤
   * stop < length) in order, the value being bytes[from, from+length) of
   * the heap itself (no copy: valid during the call only). One walk: to
   * the first chunk from the nearer end, then chunk by chunk.
   */
  rangeEach(l: number, start: number, stop: number, each: RangeSink): void {
    const mem = this.mem;
    const b = this.bytes;
    const length = mem.getU32(l + L_LENGTH);
    assert(start >= 0 && start <= stop && stop < length, "Lists.range", `${start}…${stop}`);
    let c: number;
    let skip: number;
    if (start < length / 2) { // find the chunk from the head
      c = mem.getU32(l + L_HEAD);
      skip = start;
      for (let n = mem.getU32(c + C_COUNT); skip >= n; n = mem.getU32(c + C_COUNT)) {
        skip -= n;
        c = mem.getU32(c + C_NEXT);
      }
    } else { // from the tail
      c = mem.getU32(l + L_TAIL);
      let fromEnd = length - 1 - start;
      for (let n = mem.getU32(c + C_COUNT); fromEnd >= n; n = mem.getU32(c + C_COUNT)) {
        fromEnd -= n;
        c = mem.getU32(c + C_PREV);
      }
      skip = mem.getU32(c + C_COUNT) - 1 - fromEnd;
    }
    let wanted = stop - start + 1;
    while (wanted > 0) {
      let at = c + mem.getU32(c + C_START);
      const count = mem.getU32(c + C_COUNT);
      for (let i = 0; i < skip; i++) {
        const first = b[at];
        at += first < 128 ? first + 2 : mem.getU32(at + 1) + 10;
      }
      const take = Math.min(count - skip, wanted);
      for (let i = 0; i < take; i++) {
        const first = b[at];
        if (first < 128) {
          each(b, at + 1, first);
          at += first + 2;
        } else {
          const len = mem.getU32(at + 1);
          each(b, at + 5, len);
          at += len + 10;
        }
      }
      wanted -= take;
      skip = 0;
      c = mem.getU32(c + C_NEXT);
    }
  }

  // ── internals ──

  private writeEntry(at: number, value: Uint8Array): void {
    const mem = this.mem;
    const len = value.length;
    if (len < 128) {
      mem.setU8(at, len);
      mem.write(at + 1, value);
      mem.setU8(at + 1 + len, len);
    } else {
      mem.setU8(at, 0x80);
      mem.setU32(at + 1, len);
      mem.write(at + 5, value);
      mem.setU32(at + 5 + len, len);
      mem.setU8(at + 9 + len, 0x80);
    }
  }

  /** True when chunk `c` has `need` free bytes at the side pushed to, and room for a value more. */
  private room(c: number, need: number, right: boolean): boolean {
    const mem = this.mem;
    if (mem.getU32(c + C_COUNT) >= CHUNK_VALUES_MAX) return false;
    if (right) return this.heap.sizeOf(c) - mem.getU32(c + C_END) >= need;
    return mem.getU32(c + C_START) - C_DATA >= need;
  }

  /**
   * The chunk to push `need` bytes into at one end, made ready: end chunk
   * `c` compacted or moved into a bigger block when the value fits it so,
   * else a new chunk linked at that end.
   */
  private makeRoom(l: number, c: number, need: number, right: boolean): number {
    const mem = this.mem;
    if (c !== 0 && mem.getU32(c + C_COUNT) < CHUNK_VALUES_MAX) {
      const used = mem.getU32(c + C_END) - mem.getU32(c + C_START);
      const size = this.heap.sizeOf(c);
      const want = C_DATA + used + need;
      if (want <= size) return this.recentre(c, c, size, used, right);
      if (want <= CHUNK_BYTES) {
        let grown = Math.max(size * 2, CHUNK_BYTES_MIN);
        while (grown < want) grown *= 2;
        const moved = this.heap.alloc(Math.min(grown, CHUNK_BYTES));
        mem.setU32(moved + C_PREV, mem.getU32(c + C_PREV));
        mem.setU32(moved + C_NEXT, mem.getU32(c + C_NEXT));
        mem.setU32(moved + C_COUNT, mem.getU32(c + C_COUNT));
        this.recentre(c, moved, this.heap.sizeOf(moved), used, right);
        this.relink(l, c, moved);
        this.heap.free(c);
        return moved;
      }
    }
    const first = mem.getU32(l + L_HEAD) === 0;
    const size = Math.max(C_DATA + need, first ? CHUNK_BYTES_MIN : CHUNK_BYTES);
    const fresh = this.heap.alloc(size);
    const cap = this.heap.sizeOf(fresh);
    mem.setU32(fresh + C_COUNT, 0);
    mem.setU32(fresh + C_START, right ? C_DATA : cap);
    mem.setU32(fresh + C_END, right ? C_DATA : cap);
    if (right) {
      mem.setU32(fresh + C_PREV, c);
      mem.setU32(fresh + C_NEXT, 0);
      if (c !== 0) mem.setU32(c + C_NEXT, fresh);
      else mem.setU32(l + L_HEAD, fresh);
      mem.setU32(l + L_TAIL, fresh);
    } else {
      mem.setU32(fresh + C_PREV, 0);
      mem.setU32(fresh + C_NEXT, c);
      if (c !== 0) mem.setU32(c + C_PREV, fresh);
      else mem.setU32(l + L_TAIL, fresh);
      mem.setU32(l + L_HEAD, fresh);
    }
    mem.setU32(l + L_CHUNKS, mem.getU32(l + L_CHUNKS) + 1);
    return fresh;
  }

  /** Copies the data of `from` into `to` (of `size` bytes) against the far side, leaving room at the pushed side. */
  private recentre(from: number, to: number, size: number, used: number, right: boolean): number {
    const mem = this.mem;
    const src = from + mem.getU32(from + C_START);
    const start = right ? C_DATA : size - used;
    mem.markDirty(to + start, used);
    this.bytes.copyWithin(to + start, src, src + used);
    mem.setU32(to + C_START, start);
    mem.setU32(to + C_END, start + used);
    return to;
  }

  /** Puts chunk `moved` where `c` was in list `l`. */
  private relink(l: number, c: number, moved: number): void {
    const mem = this.mem;
    const prev = mem.getU32(c + C_PREV);
    const next = mem.getU32(c + C_NEXT);
    if (prev !== 0) mem.setU32(prev + C_NEXT, moved);
    else mem.setU32(l + L_HEAD, moved);
    if (next !== 0) mem.setU32(next + C_PREV, moved);
    else mem.setU32(l + L_TAIL, moved);
  }

  private unlinkChunk(l: number, c: number): void {
    const mem = this.mem;
    const prev = mem.getU32(c + C_PREV);
    const next = mem.getU32(c + C_NEXT);
    if (prev !== 0) mem.setU32(prev + C_NEXT, next);
    else mem.setU32(l + L_HEAD, next);
    if (next !== 0) mem.setU32(next + C_PREV, prev);
    else mem.setU32(l + L_TAIL, prev);
    mem.setU32(l + L_CHUNKS, mem.getU32(l + L_CHUNKS) - 1);
    this.heap.free(c);
  }
}
