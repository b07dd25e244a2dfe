/**
 * A persistent chained hash table in a persistent heap (heap.ts), with incremental
 * rehashing as Redis's dict: while it resizes it has two bucket arrays, and
 * every lookup, insert and removal moves one bucket from the old to the new
 * one, so no single operation pays for a whole resize. It grows at load 1
 * (to twice the size) and shrinks below load 1/8.
 *
 * A table is a 32-byte header block:
 *
 *     0  buckets of table 0    4  its size (a power of two, 0 = none)   8  its nodes
 *     12 buckets of table 1    16 its size                              20 its nodes
 *     24 rehash index (NOT_REHASHING when idle)                         28 payload bytes
 *
 * and a node is one block: `next` u32, `hash` u32, key length u32, then
 * the table's fixed-size payload (what the user defines: a value address, a
 * score, a deadline), then the key bytes. One table type serves the
 * kv keyspace's databases and expires, the fields of hashes, members of
 * sets and of sorted sets, and the file system's directories.
 *
 * Keys are hashed with 32-bit MurmurHash3 and the heap's seed, and
 * compared in place in `mem.bytes`.
 *
 * @module
 */

import { copyOut } from "./copy_out.ts";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import type { PersistentHeap } from "./heap.ts";

/** Byte offset of the key's hash in a node. */
export const NODE_HASH = 4;
/** Byte offset of the payload in a node. */
export const NODE_PAYLOAD = 12;
/** Size of a table's header block. */
export const TABLE_HEADER_BYTES = 32;

const T0_BUCKETS = 0;
const T0_SIZE = 4;
const T0_USED = 8;
const T1_BUCKETS = 12;
const T1_SIZE = 16;
const T1_USED = 20;
const T_REHASH = 24;
const T_PAYLOAD = 28;
const NOT_REHASHING = 0xffffffff;
const INITIAL_SIZE = 4;
/** Empty buckets one rehash step may skip before it stops (as Redis: 10 per bucket asked). */
const EMPTY_VISITS_MAX = 10;

/** 32-bit MurmurHash3 of `len` bytes of `bytes` from `off`, with `seed`. */
export function hashBytes(bytes: Uint8Array, off: number, len: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const end4 = off + (len & ~3);
  let i = off;
  for (; i < end4; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[i + 2] << 16;
    if (tail >= 2) k ^= bytes[i + 1] << 8;
    k ^= bytes[i];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, c2);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bits of a 32-bit cursor reversed (Redis's scan cursor runs on reversed bits). */
export function reverse32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

/**
 * Operations on persistent hash tables in one heap; holds no table state
 * of its own (tables are addresses), so one instance serves them all.
 *
 * @example
 * ```ts
 * const tables = new Tables(heap);
 * const t = tables.create(8);
 * const node = tables.upsert(t, key); // tables.inserted tells whether it is new
 * heap.mem.setF64(node + NODE_PAYLOAD, 1.5);
 * ```
 */
export class Tables {
  /** Set by {@link upsert}: true when it inserted a new node. */
  inserted = false;
  private readonly mem;
  private readonly bytes: Uint8Array;
  private readonly seed: number;
  private readonly random: Prng;

  constructor(private readonly heap: PersistentHeap) {
    this.mem = heap.mem;
    this.bytes = heap.mem.bytes;
    this.seed = heap.seed;
    this.random = new Prng(this.seed ^ 0x5bd1e995);
  }

  /** A new empty table whose nodes carry `payloadBytes` bytes; buckets come with the first key. */
  create(payloadBytes: number): number {
    const t = this.heap.alloc(TABLE_HEADER_BYTES);
    const mem = this.mem;
    mem.fill(t, TABLE_HEADER_BYTES);
    mem.setU32(t + T_REHASH, NOT_REHASHING);
    mem.setU32(t + T_PAYLOAD, payloadBytes);
    return t;
  }

  /** Keys in table `t`. */
  count(t: number): number {
    return this.mem.getU32(t + T0_USED) + this.mem.getU32(t + T1_USED);
  }

  /** True while `t` is moving its nodes to a resized bucket array. */
  isRehashing(t: number): boolean {
    return this.mem.getU32(t + T_REHASH) !== NOT_REHASHING;
  }

  /** Buckets of `t` (of both arrays while it rehashes). */
  bucketCount(t: number): number {
    return this.mem.getU32(t + T0_SIZE) + this.mem.getU32(t + T1_SIZE);
  }

  /** Payload bytes of the nodes of `t`. */
  payloadBytes(t: number): number {
    return this.mem.getU32(t + T_PAYLOAD);
  }

  /** Offset of the key bytes of `node` in `mem.bytes` (for a table of `payloadBytes`). */
  static keyAt(node: number, payloadBytes: number): number {
    return node + NODE_PAYLOAD + payloadBytes;
  }

  /** Length of the key of `node`. */
  keyLength(node: number): number {
    return this.mem.getU32(node + 8);
  }

  /** A copy of the key of `node` in table `t`. */
  keyOf(t: number, node: number): Uint8Array {
    const at = node + NODE_PAYLOAD + this.mem.getU32(t + T_PAYLOAD);
    return copyOut(this.bytes, at, this.mem.getU32(node + 8));
  }

  /** The hash of `key` in every table of this heap (the same seed): pass it to the *Hashed calls. */
  hashOf(key: Uint8Array): number {
    return hashBytes(key, 0, key.length, this.seed);
  }

  /** The node holding `key`, or 0. */
  find(t: number, key: Uint8Array): number {
    return this.findHashed(t, key, hashBytes(key, 0, key.length, this.seed));
  }

  /** {@link find} with the key's {@link hashOf} already known. */
  findHashed(t: number, key: Uint8Array, hash: number): number {
    const mem = this.mem;
    if (this.count(t) === 0) return 0;
    if (mem.getU32(t + T_REHASH) !== NOT_REHASHING) this.rehashStep(t);
    const payload = mem.getU32(t + T_PAYLOAD);
    let node = this.chainFind(
      mem.getU32(t + T0_BUCKETS),
      mem.getU32(t + T0_SIZE),
      hash,
      key,
      payload,
    );
    if (node === 0 && mem.getU32(t + T_REHASH) !== NOT_REHASHING) {
      node = this.chainFind(
        mem.getU32(t + T1_BUCKETS),
        mem.getU32(t + T1_SIZE),
        hash,
        key,
        payload,
      );
    }
    return node;
  }

  /**
   * The node holding `key`, inserted (payload zeroed) when missing; sets
   * {@link inserted}. Throws E_NO_MEMORY, changing no content, when the
   * node does not fit.
   */
  upsert(t: number, key: Uint8Array): number {
    return this.upsertHashed(t, key, hashBytes(key, 0, key.length, this.seed));
  }

  /** {@link upsert} with the key's {@link hashOf} already known. */
  upsertHashed(t: number, key: Uint8Array, hash: number): number {
    const found = this.findHashed(t, key, hash);
    if (found !== 0) {
      this.inserted = false;
      return found;
    }
    this.inserted = true;
    return this.insertHashed(t, key, hash);
  }

  /**
   * A new node for `key`, which the caller knows is not in `t` (payload
   * zeroed); throws E_NO_MEMORY, changing no content.
   */
  insertHashed(t: number, key: Uint8Array, hash: number): number {
    const mem = this.mem;
    const payload = mem.getU32(t + T_PAYLOAD);
    const len = key.length;
    const node = this.heap.alloc(NODE_PAYLOAD + payload + len); // may throw: nothing changed
    if (mem.getU32(t + T0_SIZE) === 0) {
      try {
        this.startTable(t);
      } catch (e) {
        this.heap.free(node);
        throw e;
      }
    } else if (mem.getU32(t + T_REHASH) === NOT_REHASHING) {
      const size = mem.getU32(t + T0_SIZE);
      if (mem.getU32(t + T0_USED) >= size) this.tryResize(t, size * 2); // after the node: OOM-safe
    }
    mem.setU32(node + 4, hash);
    mem.setU32(node + 8, len);
    if (payload > 0) mem.fill(node + NODE_PAYLOAD, payload);
    mem.write(node + NODE_PAYLOAD + payload, key);
    const rehashing = mem.getU32(t + T_REHASH) !== NOT_REHASHING;
    const buckets = mem.getU32(t + (rehashing ? T1_BUCKETS : T0_BUCKETS));
    const mask = mem.getU32(t + (rehashing ? T1_SIZE : T0_SIZE)) - 1;
    const slot = buckets + 4 * (hash & mask);
    mem.setU32(node, mem.getU32(slot));
    mem.setU32(slot, node);
    const usedAt = t + (rehashing ? T1_USED : T0_USED);
    mem.setU32(usedAt, mem.getU32(usedAt) + 1);
    return node;
  }

  /** Takes the node of `key` out of `t` and returns it (free it with {@link freeNode}), or 0. */
  unlink(t: number, key: Uint8Array): number {
    return this.unlinkHashed(t, key, hashBytes(key, 0, key.length, this.seed));
  }

  /** {@link unlink} with the key's {@link hashOf} already known. */
  unlinkHashed(t: number, key: Uint8Array, hash: number): number {
    const mem = this.mem;
    if (this.count(t) === 0) return 0;
    if (mem.getU32(t + T_REHASH) !== NOT_REHASHING) this.rehashStep(t);
    const payload = mem.getU32(t + T_PAYLOAD);
    for (let table = 0; table < 2; table++) {
      const base = t + 12 * table;
      const size = mem.getU32(base + T0_SIZE);
      if (size === 0) break;
      let link = mem.getU32(base + T0_BUCKETS) + 4 * (hash & (size - 1));
      for (let node = mem.getU32(link); node !== 0; node = mem.getU32(link)) {
        if (this.matches(node, hash, key, payload)) {
          mem.setU32(link, mem.getU32(node));
          mem.setU32(base + T0_USED, mem.getU32(base + T0_USED) - 1);
          this.maybeShrink(t);
          return node;
        }
        link = node;
      }
      if (mem.getU32(t + T_REHASH) === NOT_REHASHING) break;
    }
    return 0;
  }

  /** Gives an unlinked node's block back. */
  freeNode(node: number): void {
    this.heap.free(node);
  }

  /** Removes `key` from `t`; true when it was there. */
  remove(t: number, key: Uint8Array, hash = hashBytes(key, 0, key.length, this.seed)): boolean {
    const node = this.unlinkHashed(t, key, hash);
    if (node === 0) return false;
    this.heap.free(node);
    return true;
  }

  /** Calls `each` on every node of `t` (which `each` must not change). */
  forEach(t: number, each: (node: number) => void): void {
    const mem = this.mem;
    for (let table = 0; table < 2; table++) {
      const buckets = mem.getU32(t + 12 * table + T0_BUCKETS);
      const size = mem.getU32(t + 12 * table + T0_SIZE);
      for (let i = 0; i < size; i++) {
        for (let node = mem.getU32(buckets + 4 * i); node !== 0; node = mem.getU32(node)) {
          each(node);
        }
      }
    }
  }

  /** Empties `t`: calls `each` on every node, then frees it, and the buckets; the header stays. */
  clear(t: number, each?: (node: number) => void): void {
    const mem = this.mem;
    for (let table = 0; table < 2; table++) {
      const base = t + 12 * table;
      const buckets = mem.getU32(base + T0_BUCKETS);
      const size = mem.getU32(base + T0_SIZE);
      for (let i = 0; i < size; i++) {
        let node = mem.getU32(buckets + 4 * i);
        while (node !== 0) {
          const next = mem.getU32(node);
          each?.(node);
          this.heap.free(node);
          node = next;
        }
      }
      if (size !== 0) this.heap.free(buckets);
      mem.setU32(base + T0_BUCKETS, 0);
      mem.setU32(base + T0_SIZE, 0);
      mem.setU32(base + T0_USED, 0);
    }
    mem.setU32(t + T_REHASH, NOT_REHASHING);
  }

  /** Frees `t` whole (see {@link clear}). */
  destroy(t: number, each?: (node: number) => void): void {
    this.clear(t, each);
    this.heap.free(t);
  }

  /**
   * One step of a full scan from `cursor` (0 starts, a returned 0 ends):
   * calls `each` on the nodes of one bucket of the smaller table and of
   * every bucket of the larger one that it expands to. The cursor counts
   * with its bits reversed (Redis's dictScan), so the buckets a cursor has
   * passed map to buckets it has passed in a table of any other power-of-two
   * size: a key present for the whole scan is returned at least once
   * however the table grows or shrinks between steps. `each` must not
   * change the table.
   */
  scan(t: number, cursor: number, each: (node: number) => void): number {
    const mem = this.mem;
    if (this.count(t) === 0) return 0;
    let v = cursor >>> 0;
    if (mem.getU32(t + T_REHASH) === NOT_REHASHING) {
      const m0 = mem.getU32(t + T0_SIZE) - 1;
      this.visitBucket(mem.getU32(t + T0_BUCKETS), v & m0, each);
      v = (v | ~m0) >>> 0;
      v = reverse32(v);
      v = (v + 1) >>> 0;
      return reverse32(v);
    }
    let small = t + T0_BUCKETS;
    let large = t + T1_BUCKETS;
    if (mem.getU32(small + 4) > mem.getU32(large + 4)) [small, large] = [large, small];
    const m0 = mem.getU32(small + 4) - 1;
    const m1 = mem.getU32(large + 4) - 1;
    this.visitBucket(mem.getU32(small), v & m0, each);
    const largeBuckets = mem.getU32(large);
    do {
      this.visitBucket(largeBuckets, v & m1, each);
      v = (v | ~m1) >>> 0;
      v = reverse32(v);
      v = (v + 1) >>> 0;
      v = reverse32(v);
    } while ((v & (m0 ^ m1)) !== 0); // the last increment carried into the smaller mask's bits
    return v;
  }

  /** A node of `t` picked at random (a random non-empty bucket, then a random node in it), or 0. */
  randomNode(t: number): number {
    const mem = this.mem;
    if (this.count(t) === 0) return 0;
    if (mem.getU32(t + T_REHASH) !== NOT_REHASHING) this.rehashStep(t);
    const s0 = mem.getU32(t + T0_SIZE);
    const rehashing = mem.getU32(t + T_REHASH) !== NOT_REHASHING;
    const from = rehashing ? mem.getU32(t + T_REHASH) : 0;
    const span = s0 - from + (rehashing ? mem.getU32(t + T1_SIZE) : 0);
    let head = 0;
    for (let tries = 0; head === 0 && tries < 4096; tries++) {
      const h = from + (this.random.nextU32() % span);
      head = h < s0
        ? mem.getU32(mem.getU32(t + T0_BUCKETS) + 4 * h)
        : mem.getU32(mem.getU32(t + T1_BUCKETS) + 4 * (h - s0));
    }
    if (head === 0) { // a sparse table (a shrink skipped for want of memory): take the first node
      this.forEach(t, (node) => {
        if (head === 0) head = node;
      });
      return head;
    }
    let length = 0;
    for (let n = head; n !== 0; n = mem.getU32(n)) length++;
    let pick = this.random.nextU32() % length;
    let node = head;
    while (pick-- > 0) node = mem.getU32(node);
    return node;
  }

  /** A random 32-bit number from the table's generator (volatile). */
  nextRandom(): number {
    return this.random.nextU32();
  }

  // ── internals ──

  private matches(node: number, hash: number, key: Uint8Array, payload: number): boolean {
    const mem = this.mem;
    if (mem.getU32(node + 4) !== hash) return false;
    const len = key.length;
    if (mem.getU32(node + 8) !== len) return false;
    const b = this.bytes;
    const at = node + NODE_PAYLOAD + payload;
    for (let i = 0; i < len; i++) if (b[at + i] !== key[i]) return false;
    return true;
  }

  private chainFind(
    buckets: number,
    size: number,
    hash: number,
    key: Uint8Array,
    payload: number,
  ): number {
    if (size === 0) return 0;
    const mem = this.mem;
    for (
      let node = mem.getU32(buckets + 4 * (hash & (size - 1)));
      node !== 0;
      node = mem.getU32(node)
    ) {
      if (this.matches(node, hash, key, payload)) return node;
    }
    return 0;
  }

  private visitBucket(buckets: number, index: number, each: (node: number) => void): void {
    const mem = this.mem;
    for (let node = mem.getU32(buckets + 4 * index); node !== 0; node = mem.getU32(node)) {
      each(node);
    }
  }

  private newBuckets(size: number): number {
    const b = this.heap.alloc(4 * size);
    this.mem.fill(b, 4 * size);
    return b;
  }

  /** Gives an empty table its first buckets (throws E_NO_MEMORY, changing nothing). */
  private startTable(t: number): void {
    const mem = this.mem;
    mem.setU32(t + T0_BUCKETS, this.newBuckets(INITIAL_SIZE));
    mem.setU32(t + T0_SIZE, INITIAL_SIZE);
  }

  /** Starts an incremental resize to `size` buckets; without the memory for them it stays as it is. */
  private tryResize(t: number, size: number): void {
    let buckets: number;
    try {
      buckets = this.newBuckets(size);
    } catch (e) {
      if (e instanceof TardigradeError && e.code === Err.E_NO_MEMORY) return; // a fuller table still works
      throw e;
    }
    const mem = this.mem;
    mem.setU32(t + T1_BUCKETS, buckets);
    mem.setU32(t + T1_SIZE, size);
    mem.setU32(t + T1_USED, 0);
    mem.setU32(t + T_REHASH, 0);
  }

  private maybeShrink(t: number): void {
    const mem = this.mem;
    if (mem.getU32(t + T_REHASH) !== NOT_REHASHING) return;
    const size = mem.getU32(t + T0_SIZE);
    const used = mem.getU32(t + T0_USED);
    if (size <= INITIAL_SIZE || used * 8 >= size) return;
    let target = INITIAL_SIZE;
    while (target < used) target *= 2;
    this.tryResize(t, target);
  }

  /** Up to `steps` rehash steps on `t` (active rehashing between commands, as Redis's cron). */
  rehashSome(t: number, steps: number): void {
    for (let i = 0; i < steps && this.mem.getU32(t + T_REHASH) !== NOT_REHASHING; i++) {
      this.rehashStep(t);
    }
  }

  /** Moves one bucket (skipping at most EMPTY_VISITS_MAX empty ones) from table 0 to table 1. */
  private rehashStep(t: number): void {
    const mem = this.mem;
    let index = mem.getU32(t + T_REHASH);
    const size0 = mem.getU32(t + T0_SIZE);
    const buckets0 = mem.getU32(t + T0_BUCKETS);
    let empty = EMPTY_VISITS_MAX;
    while (index < size0 && mem.getU32(buckets0 + 4 * index) === 0) {
      index++;
      if (--empty === 0) break;
    }
    if (index < size0) {
      const buckets1 = mem.getU32(t + T1_BUCKETS);
      const mask1 = mem.getU32(t + T1_SIZE) - 1;
      let node = mem.getU32(buckets0 + 4 * index);
      let moved = 0;
      while (node !== 0) {
        const next = mem.getU32(node);
        const slot = buckets1 + 4 * (mem.getU32(node + 4) & mask1);
        mem.setU32(node, mem.getU32(slot));
        mem.setU32(slot, node);
        moved++;
        node = next;
      }
      if (moved > 0) {
        mem.setU32(buckets0 + 4 * index, 0);
        mem.setU32(t + T0_USED, mem.getU32(t + T0_USED) - moved);
        mem.setU32(t + T1_USED, mem.getU32(t + T1_USED) + moved);
        index++;
      }
    }
    if (mem.getU32(t + T0_USED) === 0) { // done: table 1 becomes table 0
      this.heap.free(buckets0);
      mem.setU32(t + T0_BUCKETS, mem.getU32(t + T1_BUCKETS));
      mem.setU32(t + T0_SIZE, mem.getU32(t + T1_SIZE));
      mem.setU32(t + T0_USED, mem.getU32(t + T1_USED));
      mem.setU32(t + T1_BUCKETS, 0);
      mem.setU32(t + T1_SIZE, 0);
      mem.setU32(t + T1_USED, 0);
      mem.setU32(t + T_REHASH, NOT_REHASHING);
    } else mem.setU32(t + T_REHASH, index);
  }
}
