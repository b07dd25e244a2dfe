/**
 * The contract between the store's commands (servers/apps/kv/commands/)
 * and its storage (servers/apps/kv/store/): the keyspace of 16 databases,
 * each key a string, list, hash, set or sorted set with an optional
 * deadline.
 *
 * Keys, fields, members and values are bytes. Every call first deletes
 * the key it names if its deadline has passed at {@link Keyspace.now}
 * (lazy expiry), so an expired key is never seen. Calls on a key of
 * another type than the call's are the caller's mistake: commands check
 * {@link Keyspace.type} first and answer WRONGTYPE themselves.
 *
 * Memory: a call that needs more memory than is left throws
 * `TardigradeError(E_NO_MEMORY)` and changes nothing. Commands that may
 * grow memory check {@link Keyspace.usedBytes} against `maxmemory` before
 * they run (Redis's OOM rule); the throw is the last line.
 *
 * Ranges (listRange, zsetRange) take normalised indices: 0 ≤ start ≤
 * stop < length. Commands turn Redis's negative and out-of-range indices
 * into these.
 *
 * @module
 */

/** The value types, as TYPE names them. */
export type KeyType = "string" | "list" | "hash" | "set" | "zset";

/** An end of a list. */
export type ListEnd = "left" | "right";

/** What {@link Keyspace.zsetAdd} did. */
export type ZsetAdded = "added" | "updated" | "same";

/** Databases a keyspace has (SELECT 0…15). */
export const DATABASES = 16;

/** The keyspace: every database, and the memory behind them. */
export interface Keyspace {
  /** Wall-clock time (Unix ms) that expiry is judged by; the caller sets it once per command. */
  now: number;

  // ── keys ──
  /** The type of `key`, or undefined when there is none. */
  type(db: number, key: Uint8Array): KeyType | undefined;
  /** The deadline of `key` (Unix ms), or undefined when it has none or does not exist. */
  expireAt(db: number, key: Uint8Array): number | undefined;
  /** Sets (a number) or removes (undefined) the deadline of `key`; false when there is no key. */
  setExpireAt(db: number, key: Uint8Array, at: number | undefined): boolean;
  /** Deletes `key` and its value; false when there was none. */
  delete(db: number, key: Uint8Array): boolean;
  /** Keys in `db`. */
  size(db: number): number;
  /** Keys in `db` with a deadline. */
  expiringSize(db: number): number;
  /** Deletes every key of `db`. */
  flush(db: number): void;
  /**
   * One step of a full iteration of `db` from `cursor` (0 starts; a
   * returned 0 ends): about `count` keys. Every key present for the whole
   * iteration is returned at least once, even while the table resizes.
   */
  scan(db: number, cursor: number, count: number): { cursor: number; keys: Uint8Array[] };
  /** A key of `db` chosen at random, or undefined when it is empty. */
  randomKey(db: number): Uint8Array | undefined;
  /** Moves `src`'s value and deadline to `dst` (replacing it) in `db`; src must exist. */
  rename(db: number, src: Uint8Array, dst: Uint8Array): void;
  /** Copies `src` of `srcDb` to `dst` of `dstDb` with its deadline; false when dst exists and not `replace`. */
  copy(srcDb: number, src: Uint8Array, dstDb: number, dst: Uint8Array, replace: boolean): boolean;
  /** Swaps the contents of two databases. */
  swap(db1: number, db2: number): void;
  /**
   * Deletes up to `maxKeys` keys whose deadline has passed (active expiry,
   * run between commands); returns how many it deleted.
   */
  expireSome(maxKeys: number): number;

  // ── memory ──
  /** Bytes of the store's memory in use. */
  usedBytes(): number;
  /** Bytes the store's memory holds in all. */
  capacityBytes(): number;

  // ── strings ──
  /** The value of string `key`. */
  getString(db: number, key: Uint8Array): Uint8Array | undefined;
  /** Sets `key` to a string, replacing any value; drops its deadline unless `keepTtl`, then applies `expireAt`. */
  setString(
    db: number,
    key: Uint8Array,
    value: Uint8Array,
    options?: { keepTtl?: boolean; expireAt?: number },
  ): void;
  /** Appends to string `key` (created empty when missing); returns the new length. */
  appendString(db: number, key: Uint8Array, bytes: Uint8Array): number;
  /** Writes `bytes` at `offset` of string `key`, zero-padding (created when missing); returns the new length. */
  setRange(db: number, key: Uint8Array, offset: number, bytes: Uint8Array): number;
  /** Length of string `key` (0 when missing). */
  stringLength(db: number, key: Uint8Array): number;

  // ── hashes ──
  /** The value of `field` in hash `key`. */
  hashGet(db: number, key: Uint8Array, field: Uint8Array): Uint8Array | undefined;
  /** Sets `field` (creating the hash); true when the field is new. */
  hashSet(db: number, key: Uint8Array, field: Uint8Array, value: Uint8Array): boolean;
  /** Removes `field`; true when it was there. The key goes with its last field. */
  hashDelete(db: number, key: Uint8Array, field: Uint8Array): boolean;
  /** Fields of hash `key`. */
  hashLength(db: number, key: Uint8Array): number;
  /** Every field and value of hash `key`. */
  hashEntries(db: number, key: Uint8Array): Array<[Uint8Array, Uint8Array]>;

  // ── lists ──
  /** Pushes `values` one by one at `end` (creating the list); returns the new length. */
  listPush(db: number, key: Uint8Array, end: ListEnd, values: Uint8Array[]): number;
  /** Pops up to `count` values from `end`; the key goes with its last value. */
  listPop(db: number, key: Uint8Array, end: ListEnd, count: number): Uint8Array[];
  /** Values in list `key`. */
  listLength(db: number, key: Uint8Array): number;
  /** The value at `index` (negative from the right), or undefined when out of range. */
  listIndex(db: number, key: Uint8Array, index: number): Uint8Array | undefined;
  /** Values start…stop (inclusive, normalised: 0 ≤ start ≤ stop < length). */
  listRange(db: number, key: Uint8Array, start: number, stop: number): Uint8Array[];
  /**
   * Values start…stop as {@link listRange}, each handed to
   * `each(bytes, from, length)` in order as bytes[from, from+length) of
   * the store itself: no copy, valid during the call only (LRANGE writes
   * them straight into its reply).
   */
  listRangeEach(
    db: number,
    key: Uint8Array,
    start: number,
    stop: number,
    each: (bytes: Uint8Array, from: number, length: number) => void,
  ): void;

  // ── sets ──
  /** Adds `member` (creating the set); true when it is new. */
  setAdd(db: number, key: Uint8Array, member: Uint8Array): boolean;
  /** Removes `member`; true when it was there. The key goes with its last member. */
  setRemove(db: number, key: Uint8Array, member: Uint8Array): boolean;
  /** True when `member` is in set `key`. */
  setHas(db: number, key: Uint8Array, member: Uint8Array): boolean;
  /** Members of set `key`. */
  setSize(db: number, key: Uint8Array): number;
  /** Every member of set `key`. */
  setMembers(db: number, key: Uint8Array): Uint8Array[];
  /** Removes and returns up to `count` members chosen at random. */
  setPop(db: number, key: Uint8Array, count: number): Uint8Array[];

  // ── sorted sets ──
  /** Adds `member` with `score` or changes its score (creating the sorted set). */
  zsetAdd(db: number, key: Uint8Array, member: Uint8Array, score: number): ZsetAdded;
  /** The score of `member`. */
  zsetScore(db: number, key: Uint8Array, member: Uint8Array): number | undefined;
  /** Removes `member`; true when it was there. The key goes with its last member. */
  zsetRemove(db: number, key: Uint8Array, member: Uint8Array): boolean;
  /** Members of sorted set `key`. */
  zsetSize(db: number, key: Uint8Array): number;
  /** Members by rank start…stop (normalised), ascending by score, then by member bytes. */
  zsetRange(db: number, key: Uint8Array, start: number, stop: number): Array<[Uint8Array, number]>;
  /** Removes and returns up to `count` members of the lowest scores, lowest first. */
  zsetPopMin(db: number, key: Uint8Array, count: number): Array<[Uint8Array, number]>;
}

/**
 * The store's persistent heap (servers/pmem/heap.ts): the keyspace keeps
 * everything in it; the app keeps its connections' input and output
 * buffers in it too.
 */
export type { Heap } from "../../pmem/heap.ts";

/** Root words of the heap the app keeps (connection table, config): 0…APP_ROOTS-1. */
export const APP_ROOTS = 8;
/** Root words the keyspace keeps (two per database, room to spare), after the app's. */
export const KEYSPACE_ROOTS = 40;
