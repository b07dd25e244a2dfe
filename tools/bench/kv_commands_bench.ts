/**
 * The store's commands in process: `Commands.execute` over an NvmKeyspace
 * on a fresh memory object, no network, no checkpoint, each bench running
 * 1,000 commands of one kind with the arguments redis-benchmark sends
 * (3-byte values, the literal key names of its default run). What is
 * refilled or emptied between runs (the list LPOP takes from, the set
 * SPOP takes from) is set up outside the timed part (`b.start`/`b.end`).
 * Ops/s = 1,000 ÷ the time per run; docs/BENCHMARKS.md "KV store
 * commands, in process" has the figures.
 *
 * Run: `deno bench --allow-all tools/bench/kv_commands_bench.ts`
 *
 * @module
 */

import { InProcessStore } from "../kv_in_process.ts";

/** Commands per timed run. */
const RUN = 1_000;
/** Pages of the store (64 MiB). */
const STORE_PAGES = 16384;

const encoder = new TextEncoder();
const argv = (...a: string[]) => a.map((s) => encoder.encode(s));

/** A store, a session and an output buffer, as the app holds them. */
function bench(): InProcessStore {
  return new InProcessStore(STORE_PAGES);
}

/** Redis-benchmark's 10 keys of MSET. */
const MSET = argv("MSET", ...Array.from({ length: 10 }, () => ["key:__rand_int__", "xxx"]).flat());

function simple(name: string, a: Uint8Array[], setup?: (run: (a: Uint8Array[]) => void) => void) {
  const s = bench();
  setup?.((a) => s.run(a));
  Deno.bench(`${name} ×${RUN}`, { group: "kv" }, () => s.run(a, RUN));
}

simple("SET", argv("SET", "key:__rand_int__", "xxx"));
simple(
  "GET",
  argv("GET", "key:__rand_int__"),
  (run) => run(argv("SET", "key:__rand_int__", "xxx")),
);
simple("INCR", argv("INCR", "counter:__rand_int__"));
simple("MSET (10 keys)", MSET);
simple("LPUSH", argv("LPUSH", "mylist", "xxx"));
simple("RPUSH", argv("RPUSH", "mylist", "xxx"));
simple("SADD", argv("SADD", "myset", "element:__rand_int__"));
simple("HSET", argv("HSET", "myhash", "element:__rand_int__", "xxx"));
simple("ZADD", argv("ZADD", "myzset", "0", "element:__rand_int__"));

/** Pops from a structure refilled outside the timed part. */
function popping(name: string, a: Uint8Array[], refill: (run: (a: Uint8Array[]) => void) => void) {
  const s = bench();
  Deno.bench(`${name} ×${RUN}`, { group: "kv" }, (b) => {
    refill((a) => s.run(a));
    b.start();
    s.run(a, RUN);
    b.end();
  });
}

const pushes = argv("RPUSH", "mylist", ...Array.from({ length: RUN }, () => "xxx"));
popping("LPOP", argv("LPOP", "mylist"), (run) => run(pushes));
popping("RPOP", argv("RPOP", "mylist"), (run) => run(pushes));
const members = argv("SADD", "myset", ...Array.from({ length: RUN }, (_, i) => `element:${i}`));
popping("SPOP", argv("SPOP", "myset"), (run) => run(members));
const scored = argv(
  "ZADD",
  "myzset",
  ...Array.from({ length: RUN }, (_, i) => [`${i}`, `m${i}`]).flat(),
);
popping("ZPOPMIN", argv("ZPOPMIN", "myzset"), (run) => run(scored));

for (const n of [100, 300, 500, 600]) {
  const s = bench();
  s.run(argv("LPUSH", "mylist", ...Array.from({ length: 600 }, () => "xxx")));
  const a = argv("LRANGE", "mylist", "0", String(n - 1));
  Deno.bench(`LRANGE_${n} ×${RUN}`, { group: "lrange" }, () => s.run(a, RUN));
}
