/**
 * Memory per key of the store's keyspace (servers/apps/kv/store/): bytes of
 * the persistent heap in use (`usedBytes()`, every block's full size plus
 * the tables' bucket arrays) before and after 100,000 insertions, divided
 * by 100,000, each figure in a fresh store, after the idle calls of
 * `expireSome` that end a resize of the keys table (Redis's cron does the
 * same):
 *
 * - string keys `key:000001`… with 3-byte and with 100-byte values;
 * - fields `field:000001`… (3-byte values) of one hash;
 * - 3-byte elements pushed on one list;
 * - members `member:000001`… of one set, and of one sorted set (score i).
 *
 * Run: `deno run -A tools/bench/kv_memory.ts` (prints the figures as JSON).
 *
 * @module
 */

import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import type { NvmKeyspace } from "../../servers/apps/kv/store/keyspace.ts";
import { openStore } from "../../servers/apps/kv/store/mod.ts";

/** Insertions per figure. */
export const KV_MEMORY_KEYS = 100_000;
/** Pages of the store each figure is measured in (64 MiB). */
const STORE_PAGES = 16384;

/** Bytes per key, per field, per element, per member (see the module map). */
export interface KvMemoryFigures {
  string_3b_bytes_per_key: number;
  string_100b_bytes_per_key: number;
  hash_field_bytes: number;
  list_element_bytes: number;
  set_member_bytes: number;
  zset_member_bytes: number;
}

/** `name` followed by `i` as six digits: `key:000001`. */
function numbered(name: string, i: number): Uint8Array {
  return new TextEncoder().encode(`${name}:${String(i).padStart(6, "0")}`);
}

/** Bytes per insertion that `insert(keyspace, i)` for i in 1…KV_MEMORY_KEYS adds to a fresh store. */
function perInsert(insert: (ks: NvmKeyspace, i: number) => void): number {
  const { keyspace } = openStore(new PersistentMemory(allocatePmoBuffers(1, STORE_PAGES)));
  const before = keyspace.usedBytes();
  for (let i = 1; i <= KV_MEMORY_KEYS; i++) insert(keyspace, i);
  for (let i = 0; i < 4096; i++) keyspace.expireSome(1); // the app's idle calls end a resize
  return Math.round((keyspace.usedBytes() - before) / KV_MEMORY_KEYS * 10) / 10;
}

/** Measures the figures of the module map. */
export function measureMemoryPerKey(): KvMemoryFigures {
  const v3 = new TextEncoder().encode("xxx");
  const v100 = new Uint8Array(100).fill(120);
  const key = new TextEncoder().encode("k");
  return {
    string_3b_bytes_per_key: perInsert((ks, i) => ks.setString(0, numbered("key", i), v3)),
    string_100b_bytes_per_key: perInsert((ks, i) => ks.setString(0, numbered("key", i), v100)),
    hash_field_bytes: perInsert((ks, i) => ks.hashSet(0, key, numbered("field", i), v3)),
    list_element_bytes: perInsert((ks) => ks.listPush(0, key, "right", [v3])),
    set_member_bytes: perInsert((ks, i) => ks.setAdd(0, key, numbered("member", i))),
    zset_member_bytes: perInsert((ks, i) => ks.zsetAdd(0, key, numbered("member", i), i)),
  };
}

if (import.meta.main) console.log(JSON.stringify(measureMemoryPerKey(), null, 2));
