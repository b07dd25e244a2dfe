/**
 * The store's keyspace in its persistent heap (the {@link Keyspace}
 * contract of servers/apps/kv/keyspace.ts).
 *
 * Each of the 16 databases is two tables (store/table.ts), their
 * addresses in the heap's keyspace roots 2·db and 2·db+1: the keys, whose
 * node payload is the value's address, its type and a flags byte (HAS_TTL);
 * and, as Redis's db->expires, the keys with a deadline (an f64 of Unix
 * ms, so it holds across a resume), which active expiry walks without
 * looking at keys that cannot expire. A lookup consults the expires table
 * only when the key's HAS_TTL flag is set.
 *
 * Values:
 * - string: one block `[len u32] bytes`; APPEND and SETRANGE grow it by
 *   doubling (as an sds, +1 MiB steps past 1 MiB), so appends are amortised O(1);
 * - hash: a nested table, field → address of a value block as a string's;
 * - set: a nested table of members with no payload;
 * - sorted set: a nested table member → f64 score, plus a VOLATILE sorted
 *   index (store/zset_index.ts) built from the table on first use after a
 *   start or resume and kept in step with every change;
 * - list: a deque of chunks (store/list.ts).
 *
 * Every call that changes memory allocates what it needs before it
 * changes anything (or undoes what it did), so E_NO_MEMORY leaves the
 * keyspace as it was.
 *
 * @module
 */

import { copyOut } from "../../../pmem/copy_out.ts";
import { assert, Err, TardigradeError } from "../../../../kernel/abi/errors.ts";
import {
  APP_ROOTS,
  DATABASES,
  type Keyspace,
  KEYSPACE_ROOTS,
  type KeyType,
  type ListEnd,
  type ZsetAdded,
} from "../keyspace.ts";
import { HEAP_ROOTS, type PersistentHeap } from "../../../pmem/heap.ts";
import { Lists, type RangeSink } from "./list.ts";
import { NODE_HASH, NODE_PAYLOAD, Tables } from "../../../pmem/table.ts";
import { ZsetIndex } from "./zset_index.ts";

const T_STRING = 1;
const T_LIST = 2;
const T_HASH = 3;
const T_SET = 4;
const T_ZSET = 5;
const TYPE_NAMES: Array<KeyType | undefined> = [
  undefined,
  "string",
  "list",
  "hash",
  "set",
  "zset",
];

/** Payload of a key node: value address u32, type u8, flags u8, 2 spare bytes. */
const KEY_PAYLOAD = 8;
const P_VALUE = NODE_PAYLOAD;
const P_TYPE = NODE_PAYLOAD + 4;
const P_FLAGS = NODE_PAYLOAD + 5;
const F_TTL = 1;
/** Payloads of the expires table (deadline f64), hash fields (value address), set and zset members. */
const EXPIRES_PAYLOAD = 8;
const HASH_PAYLOAD = 4;
const SET_PAYLOAD = 0;
const ZSET_PAYLOAD = 8;
/** Keyspace root (heap root APP_ROOTS + it) holding the keyspace's layout version (after the 2·16 table roots). */
const ROOT_VERSION = 2 * DATABASES;
assert(ROOT_VERSION < KEYSPACE_ROOTS, "keyspace", "its roots fit KEYSPACE_ROOTS");
assert(APP_ROOTS + KEYSPACE_ROOTS <= HEAP_ROOTS, "keyspace", "its roots fit the heap's");
const KEYSPACE_VERSION = 1;
const MIB = 1024 * 1024;
/** Buckets each database's tables move per {@link NvmKeyspace.expireSome} while they rehash. */
const ACTIVE_REHASH_STEPS = 64;

/**
 * The keyspace of the store, over a {@link PersistentHeap}.
 *
 * @example
 * ```ts
 * const ks = NvmKeyspace.format(PersistentHeap.format(mem, seed));
 * ks.setString(0, key, value, { expireAt: Date.now() + 1000 });
 * ```
 */
export class NvmKeyspace implements Keyspace {
  /** {@inheritDoc Keyspace.now} */
  now: number = Date.now();
  private readonly tables: Tables;
  private readonly lists: Lists;
  private readonly mem;
  private readonly bytes: Uint8Array;
  /** Volatile: the sorted order of each sorted set used since the start, by table address. */
  private readonly zindex = new Map<number, ZsetIndex>();
  /** Volatile: where active expiry goes on in each database's expires table. */
  private readonly expireCursors = new Array<number>(DATABASES).fill(0);
  private expireDb = 0;

  private constructor(private readonly heap: PersistentHeap) {
    this.tables = new Tables(heap);
    this.lists = new Lists(heap);
    this.mem = heap.mem;
    this.bytes = heap.mem.bytes;
  }

  /** An empty keyspace in a freshly formatted heap. */
  static format(heap: PersistentHeap): NvmKeyspace {
    const ks = new NvmKeyspace(heap);
    for (let db = 0; db < DATABASES; db++) {
      heap.setRoot(APP_ROOTS + 2 * db, ks.tables.create(KEY_PAYLOAD));
      heap.setRoot(APP_ROOTS + 2 * db + 1, ks.tables.create(EXPIRES_PAYLOAD));
    }
    heap.setRoot(APP_ROOTS + ROOT_VERSION, KEYSPACE_VERSION);
    return ks;
  }

  /** The keyspace kept in `heap`; throws E_IMAGE_VERSION when the heap holds none of this layout. */
  static attach(heap: PersistentHeap): NvmKeyspace {
    const version = heap.root(APP_ROOTS + ROOT_VERSION);
    if (version !== KEYSPACE_VERSION) {
      throw new TardigradeError(
        Err.E_IMAGE_VERSION,
        `NvmKeyspace.attach: keyspace layout ${version} in the heap, this store reads ${KEYSPACE_VERSION}; start with --fresh to format it anew`,
        { version },
      );
    }
    return new NvmKeyspace(heap);
  }

  // ── keys ──

  /** {@inheritDoc Keyspace.type} */
  type(db: number, key: Uint8Array): KeyType | undefined {
    const node = this.lookup(db, key);
    return node === 0 ? undefined : TYPE_NAMES[this.bytes[node + P_TYPE]];
  }

  /** {@inheritDoc Keyspace.expireAt} */
  expireAt(db: number, key: Uint8Array): number | undefined {
    const node = this.lookup(db, key);
    if (node === 0 || (this.bytes[node + P_FLAGS] & F_TTL) === 0) return undefined;
    return this.mem.getF64(this.tables.find(this.expiresOf(db), key) + NODE_PAYLOAD);
  }

  /** {@inheritDoc Keyspace.setExpireAt} */
  setExpireAt(db: number, key: Uint8Array, at: number | undefined): boolean {
    const node = this.lookup(db, key);
    if (node === 0) return false;
    const exp = this.expiresOf(db);
    const flags = this.bytes[node + P_FLAGS];
    if (at === undefined) {
      if ((flags & F_TTL) !== 0) {
        this.tables.remove(exp, key);
        this.mem.setU8(node + P_FLAGS, flags & ~F_TTL);
      }
      return true;
    }
    const e = this.tables.upsert(exp, key);
    this.mem.setF64(e + NODE_PAYLOAD, at);
    this.mem.setU8(node + P_FLAGS, flags | F_TTL);
    return true;
  }

  /** {@inheritDoc Keyspace.delete} */
  delete(db: number, key: Uint8Array): boolean {
    if (this.lookup(db, key) === 0) return false;
    return this.remove(db, key);
  }

  /** {@inheritDoc Keyspace.size} */
  size(db: number): number {
    return this.tables.count(this.keysOf(db));
  }

  /** {@inheritDoc Keyspace.expiringSize} */
  expiringSize(db: number): number {
    return this.tables.count(this.expiresOf(db));
  }

  /** {@inheritDoc Keyspace.flush} */
  flush(db: number): void {
    const keys = this.keysOf(db);
    this.tables.clear(keys, (node) => this.freeValue(node));
    this.tables.clear(this.expiresOf(db));
    this.expireCursors[db] = 0;
  }

  /** {@inheritDoc Keyspace.scan} */
  scan(db: number, cursor: number, count: number): { cursor: number; keys: Uint8Array[] } {
    const keys: Uint8Array[] = [];
    const expired: Uint8Array[] = [];
    const t = this.keysOf(db);
    const collect = (node: number) => {
      const key = this.tables.keyOf(t, node);
      if (this.expiredNode(db, node, key)) expired.push(key);
      else keys.push(key);
    };
    let steps = Math.max(count, 1) * 10; // as Redis: at most 10 buckets per key asked
    do cursor = this.tables.scan(t, cursor, collect); while (
      cursor !== 0 && keys.length < count && --steps > 0
    );
    for (const key of expired) this.remove(db, key);
    return { cursor, keys };
  }

  /** {@inheritDoc Keyspace.randomKey} */
  randomKey(db: number): Uint8Array | undefined {
    const t = this.keysOf(db);
    for (let tries = 0; tries < 100; tries++) {
      const node = this.tables.randomNode(t);
      if (node === 0) return undefined;
      const key = this.tables.keyOf(t, node);
      if (!this.expiredNode(db, node, key)) return key;
      this.remove(db, key);
    }
    return undefined;
  }

  /** {@inheritDoc Keyspace.rename} */
  rename(db: number, src: Uint8Array, dst: Uint8Array): void {
    const node = this.lookup(db, src);
    if (node === 0) {
      throw new TardigradeError(Err.E_NOT_FOUND, "NvmKeyspace.rename: no such key; check first");
    }
    if (sameBytes(src, dst)) return;
    const type = this.bytes[node + P_TYPE];
    const value = this.mem.getU32(node + P_VALUE);
    const deadline = this.expireAt(db, src);
    this.install(db, dst, type, value, deadline); // throws before any change
    const t = this.keysOf(db);
    if (deadline !== undefined) this.tables.remove(this.expiresOf(db), src);
    this.tables.freeNode(this.tables.unlink(t, src));
  }

  /** {@inheritDoc Keyspace.copy} */
  copy(srcDb: number, src: Uint8Array, dstDb: number, dst: Uint8Array, replace: boolean): boolean {
    const node = this.lookup(srcDb, src);
    if (node === 0) return false;
    if (srcDb === dstDb && sameBytes(src, dst)) return false;
    if (!replace && this.lookup(dstDb, dst) !== 0) return false;
    const type = this.bytes[node + P_TYPE];
    const deadline = this.expireAt(srcDb, src);
    const value = this.copyValue(type, this.mem.getU32(node + P_VALUE));
    try {
      this.install(dstDb, dst, type, value, deadline);
    } catch (e) {
      this.freeValueOf(type, value);
      throw e;
    }
    return true;
  }

  /** {@inheritDoc Keyspace.swap} */
  swap(db1: number, db2: number): void {
    const heap = this.heap;
    for (let i = 0; i < 2; i++) {
      const a = heap.root(APP_ROOTS + 2 * this.checkDb(db1) + i);
      heap.setRoot(APP_ROOTS + 2 * db1 + i, heap.root(APP_ROOTS + 2 * this.checkDb(db2) + i));
      heap.setRoot(APP_ROOTS + 2 * db2 + i, a);
    }
    const c = this.expireCursors[db1];
    this.expireCursors[db1] = this.expireCursors[db2];
    this.expireCursors[db2] = c;
  }

  /**
   * {@inheritDoc Keyspace.expireSome} Also moves up to ACTIVE_REHASH_STEPS
   * buckets of each database's tables that are rehashing, so a resize ends
   * while the store is idle.
   */
  expireSome(maxKeys: number): number {
    for (let db = 0; db < DATABASES; db++) { // active rehashing rides along, as in Redis's cron
      this.tables.rehashSome(this.keysOf(db), ACTIVE_REHASH_STEPS);
      this.tables.rehashSome(this.expiresOf(db), ACTIVE_REHASH_STEPS);
    }
    let deleted = 0;
    let visits = maxKeys * 20 + 64; // bounds the work of one call
    const expired: Uint8Array[] = [];
    const now = this.now;
    for (let i = 0; i < DATABASES && deleted < maxKeys && visits > 0; i++) {
      const db = (this.expireDb + i) % DATABASES;
      const exp = this.expiresOf(db);
      if (this.tables.count(exp) === 0) continue;
      const collect = (node: number) => {
        visits--;
        if (now > this.mem.getF64(node + NODE_PAYLOAD)) expired.push(this.tables.keyOf(exp, node));
      };
      let cursor = this.expireCursors[db];
      do {
        expired.length = 0;
        cursor = this.tables.scan(exp, cursor, collect);
        for (const key of expired) {
          if (deleted < maxKeys && this.remove(db, key)) deleted++;
        }
      } while (cursor !== 0 && deleted < maxKeys && visits > 0);
      this.expireCursors[db] = cursor;
      this.expireDb = db;
    }
    if (deleted < maxKeys) this.expireDb = (this.expireDb + 1) % DATABASES;
    return deleted;
  }

  // ── memory ──

  /** {@inheritDoc Keyspace.usedBytes} */
  usedBytes(): number {
    return this.heap.usedBytes();
  }

  /** {@inheritDoc Keyspace.capacityBytes} */
  capacityBytes(): number {
    return this.heap.capacityBytes();
  }

  // ── strings ──

  /** {@inheritDoc Keyspace.getString} */
  getString(db: number, key: Uint8Array): Uint8Array | undefined {
    const v = this.valueOf(db, key, T_STRING);
    if (v === 0) return undefined;
    return copyOut(this.bytes, v + 4, this.mem.getU32(v));
  }

  /** {@inheritDoc Keyspace.setString} */
  setString(
    db: number,
    key: Uint8Array,
    value: Uint8Array,
    options?: { keepTtl?: boolean; expireAt?: number },
  ): void {
    let node = this.lookup(db, key);
    const at = options?.expireAt;
    const exp = this.expiresOf(db);
    let deadlineNode = 0;
    let deadlineNew = false;
    if (at !== undefined) {
      deadlineNode = this.tables.upsert(exp, key);
      deadlineNew = this.tables.inserted;
    }
    try {
      if (node !== 0) this.replaceWithString(node, value);
      else {
        const v = this.newString(value, value.length);
        try {
          node = this.createKey(db, key, T_STRING, v);
        } catch (e) {
          this.heap.free(v);
          throw e;
        }
      }
    } catch (e) {
      if (deadlineNew) this.tables.remove(exp, key);
      throw e;
    }
    const flags = this.bytes[node + P_FLAGS];
    if (at !== undefined) {
      this.mem.setF64(deadlineNode + NODE_PAYLOAD, at);
      if ((flags & F_TTL) === 0) this.mem.setU8(node + P_FLAGS, flags | F_TTL);
    } else if (!options?.keepTtl && (flags & F_TTL) !== 0) {
      this.tables.remove(exp, key);
      this.mem.setU8(node + P_FLAGS, flags & ~F_TTL);
    }
  }

  /** {@inheritDoc Keyspace.appendString} */
  appendString(db: number, key: Uint8Array, bytes: Uint8Array): number {
    const node = this.lookup(db, key);
    if (node === 0) {
      this.setString(db, key, bytes);
      return bytes.length;
    }
    this.expectType(node, T_STRING);
    const old = this.mem.getU32(this.mem.getU32(node + P_VALUE));
    const v = this.growString(node, old + bytes.length, false);
    this.mem.write(v + 4 + old, bytes);
    return old + bytes.length;
  }

  /** {@inheritDoc Keyspace.setRange} */
  setRange(db: number, key: Uint8Array, offset: number, bytes: Uint8Array): number {
    const node = this.lookup(db, key);
    if (node === 0) {
      if (bytes.length === 0) return 0;
      const value = new Uint8Array(offset + bytes.length);
      value.set(bytes, offset);
      this.setString(db, key, value);
      return value.length;
    }
    this.expectType(node, T_STRING);
    const old = this.mem.getU32(this.mem.getU32(node + P_VALUE));
    if (bytes.length === 0) return old;
    const length = Math.max(old, offset + bytes.length);
    const v = this.growString(node, length, true);
    this.mem.write(v + 4 + offset, bytes);
    return length;
  }

  /** {@inheritDoc Keyspace.stringLength} */
  stringLength(db: number, key: Uint8Array): number {
    const v = this.valueOf(db, key, T_STRING);
    return v === 0 ? 0 : this.mem.getU32(v);
  }

  // ── hashes ──

  /** {@inheritDoc Keyspace.hashGet} */
  hashGet(db: number, key: Uint8Array, field: Uint8Array): Uint8Array | undefined {
    const t = this.valueOf(db, key, T_HASH);
    if (t === 0) return undefined;
    const n = this.tables.find(t, field);
    if (n === 0) return undefined;
    const v = this.mem.getU32(n + NODE_PAYLOAD);
    return copyOut(this.bytes, v + 4, this.mem.getU32(v));
  }

  /** {@inheritDoc Keyspace.hashSet} */
  hashSet(db: number, key: Uint8Array, field: Uint8Array, value: Uint8Array): boolean {
    const node = this.lookup(db, key);
    if (node !== 0) {
      const t = this.expectType(node, T_HASH);
      const n = this.tables.find(t, field);
      if (n !== 0) {
        this.replaceBlock(n + NODE_PAYLOAD, value);
        return false;
      }
      this.addField(t, field, value);
      return true;
    }
    const t = this.tables.create(HASH_PAYLOAD);
    try {
      this.addField(t, field, value);
      this.createKey(db, key, T_HASH, t);
    } catch (e) {
      this.freeValueOf(T_HASH, t);
      throw e;
    }
    return true;
  }

  /** {@inheritDoc Keyspace.hashDelete} */
  hashDelete(db: number, key: Uint8Array, field: Uint8Array): boolean {
    const t = this.valueOf(db, key, T_HASH);
    if (t === 0) return false;
    const n = this.tables.unlink(t, field);
    if (n === 0) return false;
    this.heap.free(this.mem.getU32(n + NODE_PAYLOAD));
    this.tables.freeNode(n);
    if (this.tables.count(t) === 0) this.remove(db, key);
    return true;
  }

  /** {@inheritDoc Keyspace.hashLength} */
  hashLength(db: number, key: Uint8Array): number {
    const t = this.valueOf(db, key, T_HASH);
    return t === 0 ? 0 : this.tables.count(t);
  }

  /** {@inheritDoc Keyspace.hashEntries} */
  hashEntries(db: number, key: Uint8Array): Array<[Uint8Array, Uint8Array]> {
    const t = this.valueOf(db, key, T_HASH);
    const out: Array<[Uint8Array, Uint8Array]> = [];
    if (t === 0) return out;
    this.tables.forEach(t, (n) => {
      const v = this.mem.getU32(n + NODE_PAYLOAD);
      out.push([this.tables.keyOf(t, n), copyOut(this.bytes, v + 4, this.mem.getU32(v))]);
    });
    return out;
  }

  // ── lists ──

  /** {@inheritDoc Keyspace.listPush} */
  listPush(db: number, key: Uint8Array, end: ListEnd, values: Uint8Array[]): number {
    const node = this.lookup(db, key);
    const created = node === 0;
    const l = created ? this.lists.create() : this.expectType(node, T_LIST);
    let pushed = 0;
    try {
      for (; pushed < values.length; pushed++) this.lists.push(l, end, values[pushed]);
      if (created) this.createKey(db, key, T_LIST, l);
    } catch (e) {
      if (created) this.lists.destroy(l);
      else for (; pushed > 0; pushed--) this.lists.pop(l, end); // a grown chunk may stay grown
      throw e;
    }
    return this.lists.length(l);
  }

  /** {@inheritDoc Keyspace.listPop} */
  listPop(db: number, key: Uint8Array, end: ListEnd, count: number): Uint8Array[] {
    const l = this.valueOf(db, key, T_LIST);
    const out: Uint8Array[] = [];
    if (l === 0) return out;
    while (out.length < count && this.lists.length(l) > 0) out.push(this.lists.pop(l, end));
    if (this.lists.length(l) === 0) this.remove(db, key);
    return out;
  }

  /** {@inheritDoc Keyspace.listLength} */
  listLength(db: number, key: Uint8Array): number {
    const l = this.valueOf(db, key, T_LIST);
    return l === 0 ? 0 : this.lists.length(l);
  }

  /** {@inheritDoc Keyspace.listIndex} */
  listIndex(db: number, key: Uint8Array, index: number): Uint8Array | undefined {
    const l = this.valueOf(db, key, T_LIST);
    if (l === 0) return undefined;
    const length = this.lists.length(l);
    if (index < 0) index += length;
    if (index < 0 || index >= length) return undefined;
    return this.lists.at(l, index);
  }

  /** {@inheritDoc Keyspace.listRange} */
  listRange(db: number, key: Uint8Array, start: number, stop: number): Uint8Array[] {
    const l = this.valueOf(db, key, T_LIST);
    const out: Uint8Array[] = [];
    if (l !== 0) this.lists.range(l, start, stop, out);
    return out;
  }

  /** {@inheritDoc Keyspace.listRangeEach} */
  listRangeEach(db: number, key: Uint8Array, start: number, stop: number, each: RangeSink): void {
    const l = this.valueOf(db, key, T_LIST);
    if (l !== 0) this.lists.rangeEach(l, start, stop, each);
  }

  // ── sets ──

  /** {@inheritDoc Keyspace.setAdd} */
  setAdd(db: number, key: Uint8Array, member: Uint8Array): boolean {
    const node = this.lookup(db, key);
    if (node !== 0) {
      this.tables.upsert(this.expectType(node, T_SET), member);
      return this.tables.inserted;
    }
    const t = this.tables.create(SET_PAYLOAD);
    try {
      this.tables.upsert(t, member);
      this.createKey(db, key, T_SET, t);
    } catch (e) {
      this.tables.destroy(t);
      throw e;
    }
    return true;
  }

  /** {@inheritDoc Keyspace.setRemove} */
  setRemove(db: number, key: Uint8Array, member: Uint8Array): boolean {
    const t = this.valueOf(db, key, T_SET);
    if (t === 0 || !this.tables.remove(t, member)) return false;
    if (this.tables.count(t) === 0) this.remove(db, key);
    return true;
  }

  /** {@inheritDoc Keyspace.setHas} */
  setHas(db: number, key: Uint8Array, member: Uint8Array): boolean {
    const t = this.valueOf(db, key, T_SET);
    return t !== 0 && this.tables.find(t, member) !== 0;
  }

  /** {@inheritDoc Keyspace.setSize} */
  setSize(db: number, key: Uint8Array): number {
    const t = this.valueOf(db, key, T_SET);
    return t === 0 ? 0 : this.tables.count(t);
  }

  /** {@inheritDoc Keyspace.setMembers} */
  setMembers(db: number, key: Uint8Array): Uint8Array[] {
    const t = this.valueOf(db, key, T_SET);
    const out: Uint8Array[] = [];
    if (t !== 0) this.tables.forEach(t, (n) => out.push(this.tables.keyOf(t, n)));
    return out;
  }

  /** {@inheritDoc Keyspace.setPop} */
  setPop(db: number, key: Uint8Array, count: number): Uint8Array[] {
    const t = this.valueOf(db, key, T_SET);
    const out: Uint8Array[] = [];
    if (t === 0) return out;
    while (out.length < count && this.tables.count(t) > 0) {
      const member = this.tables.keyOf(t, this.tables.randomNode(t));
      this.tables.remove(t, member);
      out.push(member);
    }
    if (this.tables.count(t) === 0) this.remove(db, key);
    return out;
  }

  // ── sorted sets ──

  /** {@inheritDoc Keyspace.zsetAdd} */
  zsetAdd(db: number, key: Uint8Array, member: Uint8Array, score: number): ZsetAdded {
    const node = this.lookup(db, key);
    if (node !== 0) {
      const t = this.expectType(node, T_ZSET);
      const n = this.tables.upsert(t, member);
      const index = this.zindex.get(t);
      if (this.tables.inserted) {
        this.mem.setF64(n + NODE_PAYLOAD, score);
        index?.insert(copyOut(member, 0, member.length), score);
        return "added";
      }
      const old = this.mem.getF64(n + NODE_PAYLOAD);
      if (old === score) return "same";
      this.mem.setF64(n + NODE_PAYLOAD, score);
      if (index !== undefined) {
        index.remove(member, old);
        index.insert(copyOut(member, 0, member.length), score);
      }
      return "updated";
    }
    const t = this.tables.create(ZSET_PAYLOAD);
    try {
      this.mem.setF64(this.tables.upsert(t, member) + NODE_PAYLOAD, score);
      this.createKey(db, key, T_ZSET, t);
    } catch (e) {
      this.tables.destroy(t);
      throw e;
    }
    return "added";
  }

  /** {@inheritDoc Keyspace.zsetScore} */
  zsetScore(db: number, key: Uint8Array, member: Uint8Array): number | undefined {
    const t = this.valueOf(db, key, T_ZSET);
    if (t === 0) return undefined;
    const n = this.tables.find(t, member);
    return n === 0 ? undefined : this.mem.getF64(n + NODE_PAYLOAD);
  }

  /** {@inheritDoc Keyspace.zsetRemove} */
  zsetRemove(db: number, key: Uint8Array, member: Uint8Array): boolean {
    const t = this.valueOf(db, key, T_ZSET);
    if (t === 0) return false;
    const n = this.tables.unlink(t, member);
    if (n === 0) return false;
    this.zindex.get(t)?.remove(member, this.mem.getF64(n + NODE_PAYLOAD));
    this.tables.freeNode(n);
    if (this.tables.count(t) === 0) this.remove(db, key);
    return true;
  }

  /** {@inheritDoc Keyspace.zsetSize} */
  zsetSize(db: number, key: Uint8Array): number {
    const t = this.valueOf(db, key, T_ZSET);
    return t === 0 ? 0 : this.tables.count(t);
  }

  /** {@inheritDoc Keyspace.zsetRange} The members returned are the index's own: do not change them. */
  zsetRange(db: number, key: Uint8Array, start: number, stop: number): Array<[Uint8Array, number]> {
    const t = this.valueOf(db, key, T_ZSET);
    const out: Array<[Uint8Array, number]> = [];
    if (t === 0) return out;
    this.zindexOf(t).range(start, stop, out);
    return out;
  }

  /** {@inheritDoc Keyspace.zsetPopMin} */
  zsetPopMin(db: number, key: Uint8Array, count: number): Array<[Uint8Array, number]> {
    const t = this.valueOf(db, key, T_ZSET);
    const out: Array<[Uint8Array, number]> = [];
    if (t === 0) return out;
    const index = this.zindexOf(t);
    index.popMin(Math.min(count, index.size), out);
    for (const [member] of out) this.tables.remove(t, member);
    if (this.tables.count(t) === 0) this.remove(db, key);
    return out;
  }

  // ── internals ──

  private checkDb(db: number): number {
    if (!(db >= 0 && db < DATABASES && Number.isInteger(db))) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `NvmKeyspace: database ${db} is outside 0…${DATABASES - 1}`,
        { db },
      );
    }
    return db;
  }

  private keysOf(db: number): number {
    return this.heap.root(APP_ROOTS + 2 * this.checkDb(db));
  }

  private expiresOf(db: number): number {
    return this.heap.root(APP_ROOTS + 2 * this.checkDb(db) + 1);
  }

  /** The node of `key` in `db`, or 0; an expired key is deleted first (lazy expiry). */
  private lookup(db: number, key: Uint8Array): number {
    const node = this.tables.find(this.keysOf(db), key);
    if (node === 0 || (this.bytes[node + P_FLAGS] & F_TTL) === 0) return node;
    const e = this.tables.findHashed(this.expiresOf(db), key, this.mem.getU32(node + NODE_HASH));
    if (e === 0 || !(this.now > this.mem.getF64(e + NODE_PAYLOAD))) return node;
    this.remove(db, key);
    return 0;
  }

  /** True when key node `node` (of `key`) has a deadline that has passed. */
  private expiredNode(db: number, node: number, key: Uint8Array): boolean {
    if ((this.bytes[node + P_FLAGS] & F_TTL) === 0) return false;
    const e = this.tables.findHashed(this.expiresOf(db), key, this.mem.getU32(node + NODE_HASH));
    return e !== 0 && this.now > this.mem.getF64(e + NODE_PAYLOAD);
  }

  /** The value address of `key` (of type `type`), or 0 when there is no key. */
  private valueOf(db: number, key: Uint8Array, type: number): number {
    const node = this.lookup(db, key);
    return node === 0 ? 0 : this.expectType(node, type);
  }

  /** The value address of key node `node`, which must hold a `type`. */
  private expectType(node: number, type: number): number {
    const actual = this.bytes[node + P_TYPE];
    if (actual !== type) {
      throw new TardigradeError(
        Err.E_WRONG_KIND,
        `NvmKeyspace: the key holds a ${TYPE_NAMES[actual]}, not a ${
          TYPE_NAMES[type]
        }; check type() first (WRONGTYPE)`,
        { actual, type },
      );
    }
    return this.mem.getU32(node + P_VALUE);
  }

  /** Inserts `key` (absent) with `value` of `type`, no deadline; throws E_NO_MEMORY, changing nothing. */
  private createKey(db: number, key: Uint8Array, type: number, value: number): number {
    const node = this.tables.insertHashed(this.keysOf(db), key, this.tables.hashOf(key));
    this.mem.setU32(node + P_VALUE, value);
    this.mem.setU8(node + P_TYPE, type);
    return node;
  }

  /** Removes `key` (present) and frees its value and deadline; no expiry check. */
  private remove(db: number, key: Uint8Array): boolean {
    const hash = this.tables.hashOf(key);
    const node = this.tables.unlinkHashed(this.keysOf(db), key, hash);
    if (node === 0) return false;
    if ((this.bytes[node + P_FLAGS] & F_TTL) !== 0) {
      this.tables.remove(this.expiresOf(db), key, hash);
    }
    this.freeValue(node);
    this.tables.freeNode(node);
    return true;
  }

  private freeValue(node: number): void {
    this.freeValueOf(this.bytes[node + P_TYPE], this.mem.getU32(node + P_VALUE));
  }

  private freeValueOf(type: number, v: number): void {
    switch (type) {
      case T_STRING:
        this.heap.free(v);
        break;
      case T_LIST:
        this.lists.destroy(v);
        break;
      case T_HASH:
        this.tables.destroy(v, (n) => this.heap.free(this.mem.getU32(n + NODE_PAYLOAD)));
        break;
      case T_SET:
        this.tables.destroy(v);
        break;
      case T_ZSET:
        this.tables.destroy(v);
        this.zindex.delete(v);
        break;
    }
  }

  /** A string block holding `bytes`, with room for `capacity` bytes. */
  private newString(bytes: Uint8Array, capacity: number): number {
    const v = this.heap.alloc(4 + capacity);
    this.mem.setU32(v, bytes.length);
    this.mem.write(v + 4, bytes);
    return v;
  }

  /** Makes key node `node` a string of `value`, reusing its block when that fits snugly. */
  private replaceWithString(node: number, value: Uint8Array): void {
    if (this.bytes[node + P_TYPE] === T_STRING) return this.replaceBlock(node + P_VALUE, value);
    const v = this.newString(value, value.length);
    this.freeValue(node);
    this.mem.setU32(node + P_VALUE, v);
    this.mem.setU8(node + P_TYPE, T_STRING);
  }

  /** Writes `value` into the string block whose address is at `slot`, or into a new one. */
  private replaceBlock(slot: number, value: Uint8Array): void {
    const v = this.mem.getU32(slot);
    const room = this.heap.sizeOf(v) - 4;
    if (room >= value.length && room <= 2 * value.length + 32) {
      this.mem.setU32(v, value.length);
      this.mem.write(v + 4, value);
      return;
    }
    const fresh = this.newString(value, value.length);
    this.heap.free(v);
    this.mem.setU32(slot, fresh);
  }

  /**
   * Makes the string of key node `node` `length` bytes long (never
   * shorter), growing its block by doubling; zero-fills the new bytes when
   * `zero`. Returns the block.
   */
  private growString(node: number, length: number, zero: boolean): number {
    const mem = this.mem;
    const v = mem.getU32(node + P_VALUE);
    const old = mem.getU32(v);
    if (4 + length <= this.heap.sizeOf(v)) {
      if (zero && length > old) mem.fill(v + 4 + old, length - old);
      if (length > old) mem.setU32(v, length);
      return v;
    }
    const fresh = this.heap.alloc(4 + (length < MIB ? 2 * length : length + MIB));
    mem.markDirty(fresh + 4, old);
    this.bytes.copyWithin(fresh + 4, v + 4, v + 4 + old);
    if (zero) mem.fill(fresh + 4 + old, length - old);
    mem.setU32(fresh, length);
    this.heap.free(v);
    mem.setU32(node + P_VALUE, fresh);
    return fresh;
  }

  private addField(t: number, field: Uint8Array, value: Uint8Array): void {
    const v = this.newString(value, value.length);
    try {
      this.mem.setU32(this.tables.upsert(t, field) + NODE_PAYLOAD, v);
    } catch (e) {
      this.heap.free(v);
      throw e;
    }
  }

  /**
   * Points `key` of `db` at `value` of `type` with `deadline`, freeing
   * what it held; allocates first, so E_NO_MEMORY changes nothing.
   */
  private install(
    db: number,
    key: Uint8Array,
    type: number,
    value: number,
    deadline: number | undefined,
  ): void {
    this.lookup(db, key); // an expired destination goes first
    const exp = this.expiresOf(db);
    let e = 0;
    let eNew = false;
    if (deadline !== undefined) {
      e = this.tables.upsert(exp, key);
      eNew = this.tables.inserted;
    }
    let node: number;
    try {
      node = this.tables.upsert(this.keysOf(db), key);
    } catch (err) {
      if (eNew) this.tables.remove(exp, key);
      throw err;
    }
    let flags = this.bytes[node + P_FLAGS];
    if (!this.tables.inserted) this.freeValue(node);
    this.mem.setU32(node + P_VALUE, value);
    this.mem.setU8(node + P_TYPE, type);
    if (deadline !== undefined) {
      this.mem.setF64(e + NODE_PAYLOAD, deadline);
      flags |= F_TTL;
    } else if ((flags & F_TTL) !== 0) {
      this.tables.remove(exp, key);
      flags &= ~F_TTL;
    }
    this.mem.setU8(node + P_FLAGS, flags);
  }

  /** A deep copy of value `v` of `type`; throws E_NO_MEMORY having freed what it made. */
  private copyValue(type: number, v: number): number {
    const mem = this.mem;
    if (type === T_STRING) {
      const length = mem.getU32(v);
      const fresh = this.heap.alloc(4 + length);
      mem.setU32(fresh, length);
      mem.markDirty(fresh + 4, length);
      this.bytes.copyWithin(fresh + 4, v + 4, v + 4 + length);
      return fresh;
    }
    if (type === T_LIST) {
      const fresh = this.lists.create();
      try {
        const length = this.lists.length(v);
        const values: Uint8Array[] = [];
        if (length > 0) this.lists.range(v, 0, length - 1, values);
        for (const value of values) this.lists.push(fresh, "right", value);
      } catch (e) {
        this.lists.destroy(fresh);
        throw e;
      }
      return fresh;
    }
    const payload = type === T_HASH ? HASH_PAYLOAD : type === T_SET ? SET_PAYLOAD : ZSET_PAYLOAD;
    const fresh = this.tables.create(payload);
    try {
      this.tables.forEach(v, (n) => {
        const member = this.tables.keyOf(v, n);
        if (type === T_HASH) {
          const b = mem.getU32(n + NODE_PAYLOAD);
          this.addField(fresh, member, this.bytes.subarray(b + 4, b + 4 + mem.getU32(b)));
        } else {
          const m = this.tables.upsert(fresh, member);
          if (type === T_ZSET) mem.setF64(m + NODE_PAYLOAD, mem.getF64(n + NODE_PAYLOAD));
        }
      });
    } catch (e) {
      this.freeValueOf(type, fresh);
      throw e;
    }
    return fresh;
  }

  /** The sorted order of zset table `t`, built from the table when not cached. */
  private zindexOf(t: number): ZsetIndex {
    let index = this.zindex.get(t);
    if (index === undefined) {
      const entries: Array<[Uint8Array, number]> = [];
      this.tables.forEach(
        t,
        (n) => entries.push([this.tables.keyOf(t, n), this.mem.getF64(n + NODE_PAYLOAD)]),
      );
      index = ZsetIndex.build(entries);
      this.zindex.set(t, index);
    }
    return index;
  }
}

/** True when `a` and `b` hold the same bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
