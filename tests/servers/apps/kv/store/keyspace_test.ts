/**
 * The store's keyspace (servers/apps/kv/store/keyspace.ts) against the
 * Keyspace contract: each type's operations; lazy expiry and active expiry
 * (expireSome) with `now` moved by the test; rename, copy, swap and flush;
 * a resume (the bytes copied into a fresh memory object and attached) with
 * the same contents and the same sorted-set order from the rebuilt index;
 * 100,000 list pushes and pops; E_NO_MEMORY that changes no byte.
 *
 * Run: `deno test tests/servers/apps/kv/store/keyspace_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../../../kernel/abi/errors.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../../../../kernel/abi/pmem.ts";
import { Prng } from "../../../../../kernel/abi/prng.ts";
import { PageState } from "../../../../../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../../../../../kernel/abi/limits.ts";
import {
  NvmKeyspace,
  openStore,
  type PersistentHeap,
} from "../../../../../servers/apps/kv/store/mod.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b);
const strs = (bs: Uint8Array[]) => bs.map((b) => new TextDecoder().decode(b));

function store(
  pages = 2048,
): { mem: PersistentMemory; ks: NvmKeyspace; pageState: Uint8Array; heap: PersistentHeap } {
  const buffers = allocatePmoBuffers(1, pages);
  const mem = new PersistentMemory(buffers);
  const { keyspace, fresh, heap } = openStore(mem);
  assert.ok(fresh);
  keyspace.now = 1_000_000;
  return { mem, ks: keyspace, pageState: new Uint8Array(buffers.pageState), heap };
}

/** The store attached from a copy of `mem`'s bytes: what a resume maps. */
function resumed(mem: PersistentMemory): NvmKeyspace {
  const data = new SharedArrayBuffer(mem.byteLength);
  new Uint8Array(data).set(mem.bytes);
  const { keyspace, fresh } = openStore(
    new PersistentMemory(allocatePmoBuffers(2, mem.pageCount, data)),
  );
  assert.ok(!fresh);
  return keyspace;
}

Deno.test("keyspace: strings set, get, append, set ranges and give memory back", () => {
  const { ks } = store();
  const start = ks.usedBytes();
  const k = text("s");
  assert.equal(ks.getString(0, k), undefined);
  ks.setString(0, k, text("hello"));
  assert.equal(ks.type(0, k), "string");
  assert.equal(str(ks.getString(0, k)), "hello");
  assert.equal(ks.appendString(0, k, text(" world")), 11);
  assert.equal(ks.stringLength(0, k), 11);
  assert.equal(ks.setRange(0, k, 13, text("!")), 14);
  assert.deepEqual([...ks.getString(0, k)!.subarray(10)], [100, 0, 0, 33]);
  assert.equal(ks.appendString(0, text("new"), text("abc")), 3);
  assert.equal(ks.setRange(0, text("none"), 2, new Uint8Array(0)), 0);
  assert.equal(ks.type(0, text("none")), undefined);
  for (let i = 0; i < 2000; i++) ks.appendString(0, k, text("0123456789"));
  assert.equal(ks.stringLength(0, k), 20_014);
  ks.setString(0, k, text("short")); // overwrite gives the big block back
  assert.equal(str(ks.getString(0, k)), "short");
  assert.equal(ks.size(0), 2);
  assert.ok(ks.delete(0, k));
  assert.ok(!ks.delete(0, k));
  assert.ok(ks.delete(0, text("new")));
  assert.equal(ks.usedBytes(), start + 16); // the keys table keeps its first 4 buckets
});

Deno.test("keyspace: hashes, sets and sorted sets, and the key goes with its last member", () => {
  const { ks } = store();
  const h = text("h");
  assert.ok(ks.hashSet(0, h, text("f1"), text("v1")));
  assert.ok(ks.hashSet(0, h, text("f2"), text("v2")));
  assert.ok(!ks.hashSet(0, h, text("f1"), text("v1-longer-value")));
  assert.equal(str(ks.hashGet(0, h, text("f1"))), "v1-longer-value");
  assert.equal(ks.hashLength(0, h), 2);
  assert.deepEqual(
    ks.hashEntries(0, h).map(([f, v]) => `${str(f)}=${str(v)}`).sort(),
    ["f1=v1-longer-value", "f2=v2"],
  );
  assert.ok(ks.hashDelete(0, h, text("f1")));
  assert.ok(!ks.hashDelete(0, h, text("f1")));
  assert.ok(ks.hashDelete(0, h, text("f2")));
  assert.equal(ks.type(0, h), undefined);

  const s = text("s");
  for (const m of ["a", "b", "c"]) assert.ok(ks.setAdd(0, s, text(m)));
  assert.ok(!ks.setAdd(0, s, text("a")));
  assert.ok(ks.setHas(0, s, text("b")) && !ks.setHas(0, s, text("z")));
  assert.equal(ks.setSize(0, s), 3);
  assert.deepEqual(strs(ks.setMembers(0, s)).sort(), ["a", "b", "c"]);
  assert.ok(ks.setRemove(0, s, text("a")));
  const popped = strs(ks.setPop(0, s, 5)).sort();
  assert.deepEqual(popped, ["b", "c"]);
  assert.equal(ks.type(0, s), undefined);

  const z = text("z");
  assert.equal(ks.zsetAdd(0, z, text("b"), 2), "added");
  assert.equal(ks.zsetAdd(0, z, text("a"), 2), "added");
  assert.equal(ks.zsetAdd(0, z, text("c"), 1), "added");
  assert.equal(ks.zsetAdd(0, z, text("ab"), 2), "added");
  const order = () =>
    ks.zsetRange(0, z, 0, ks.zsetSize(0, z) - 1).map(([m, v]) => `${str(m)}:${v}`);
  assert.deepEqual(order(), ["c:1", "a:2", "ab:2", "b:2"]);
  assert.equal(ks.zsetAdd(0, z, text("c"), 1), "same");
  assert.equal(ks.zsetAdd(0, z, text("c"), 3), "updated");
  assert.equal(ks.zsetAdd(0, z, text("d"), -1), "added");
  assert.deepEqual(order(), ["d:-1", "a:2", "ab:2", "b:2", "c:3"]);
  assert.equal(ks.zsetScore(0, z, text("ab")), 2);
  assert.ok(ks.zsetRemove(0, z, text("ab")));
  assert.deepEqual(order(), ["d:-1", "a:2", "b:2", "c:3"]);
  assert.deepEqual(ks.zsetPopMin(0, z, 2).map(([m, v]) => `${str(m)}:${v}`), ["d:-1", "a:2"]);
  assert.deepEqual(order(), ["b:2", "c:3"]);
  assert.equal(ks.zsetSize(0, z), 2);
  ks.zsetPopMin(0, z, 9);
  assert.equal(ks.type(0, z), undefined);
});

Deno.test("keyspace: a large sorted set keeps Redis's order through random changes", () => {
  const seed = 0x2a5e7;
  console.log(`zset seed ${seed}`);
  const random = new Prng(seed);
  const { ks } = store(4096);
  const z = text("z");
  const model = new Map<string, number>();
  const expected = () =>
    [...model].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([m, s]) => `${m}:${s}`);
  const actual = (start: number, stop: number) =>
    ks.zsetRange(0, z, start, stop).map(([m, s]) => `${str(m)}:${s}`);
  for (let op = 0; op < 12_000; op++) {
    const member = `m${random.int(0, 3000)}`;
    const roll = random.int(0, 9);
    if (roll < 7) {
      const score = random.int(0, 40);
      const was = model.get(member);
      const added = ks.zsetAdd(0, z, text(member), score);
      assert.equal(added, was === undefined ? "added" : was === score ? "same" : "updated");
      model.set(member, score);
    } else if (roll < 9) {
      assert.equal(ks.zsetRemove(0, z, text(member)), model.delete(member));
    } else if (model.size > 0) {
      const popped = ks.zsetPopMin(0, z, 3).map(([m, s]) => `${str(m)}:${s}`);
      assert.deepEqual(popped, expected().slice(0, 3), `op ${op}`);
      for (const p of popped) model.delete(p.split(":")[0]);
    }
    if (op % 1000 === 999) {
      const all = expected();
      assert.equal(ks.zsetSize(0, z), all.length);
      assert.deepEqual(actual(0, all.length - 1), all, `op ${op}`);
      assert.deepEqual(actual(700, 1300), all.slice(700, 1301), `op ${op}`);
    }
  }
  assert.ok(model.size > 1200, `${model.size} members: too few to split blocks`);
});

Deno.test("keyspace: lists push and pop at both ends, index and range", () => {
  const { ks } = store();
  const l = text("l");
  assert.equal(ks.listPush(0, l, "right", [text("b"), text("c")]), 2);
  assert.equal(ks.listPush(0, l, "left", [text("a"), text("z")]), 4);
  assert.deepEqual(strs(ks.listRange(0, l, 0, 3)), ["z", "a", "b", "c"]);
  const long = "x".repeat(300);
  ks.listPush(0, l, "right", [text(long)]);
  assert.equal(str(ks.listIndex(0, l, -1)), long);
  assert.equal(str(ks.listIndex(0, l, 1)), "a");
  assert.equal(ks.listIndex(0, l, 5), undefined);
  assert.deepEqual(strs(ks.listPop(0, l, "right", 2)), [long, "c"]);
  assert.deepEqual(strs(ks.listPop(0, l, "left", 1)), ["z"]);
  assert.equal(ks.listLength(0, l), 2);
  assert.deepEqual(strs(ks.listPop(0, l, "left", 10)), ["a", "b"]);
  assert.equal(ks.type(0, l), undefined);
});

Deno.test("keyspace: 100,000 list pushes and pops agree with an array and give memory back", () => {
  const seed = 0x11575;
  console.log(`list seed ${seed}`);
  const random = new Prng(seed);
  const { ks } = store(4096);
  const start = ks.usedBytes();
  const l = text("big");
  // The model: a deque in an array twice the pushes long, its values between head and tail.
  const model = new Array<string>(200_002);
  let head = 100_001;
  let tail = 100_001;
  for (let i = 0; i < 100_000; i++) {
    const v = random.int(0, 20) === 0 ? `long${"y".repeat(random.int(100, 400))}${i}` : `${i}`;
    if (random.int(0, 1) === 0) {
      ks.listPush(0, l, "left", [text(v)]);
      model[--head] = v;
    } else {
      ks.listPush(0, l, "right", [text(v)]);
      model[tail++] = v;
    }
  }
  assert.equal(ks.listLength(0, l), 100_000);
  for (const i of [0, 1, 127, 128, 4999, 50_000, 99_999]) {
    assert.equal(str(ks.listIndex(0, l, i)), model[head + i], `index ${i}`);
  }
  assert.deepEqual(
    strs(ks.listRange(0, l, 49_990, 50_010)),
    model.slice(head + 49_990, head + 50_011),
  );
  // Ranges handed out in place (LRANGE's path): random ones, within a chunk and across many.
  for (let r = 0; r < 200; r++) {
    const a = random.int(0, 99_999), b = Math.min(99_999, a + random.int(0, r < 100 ? 40 : 5000));
    const got: string[] = [];
    ks.listRangeEach(0, l, a, b, (bytes, from, n) => {
      got.push(new TextDecoder().decode(bytes.subarray(from, from + n)));
    });
    assert.deepEqual(got, model.slice(head + a, head + b + 1), `range ${a}…${b}`);
  }
  for (let i = 0; i < 100_000; i++) {
    const left = random.int(0, 1) === 0;
    const got = str(ks.listPop(0, l, left ? "left" : "right", 1)[0]);
    const expected = left ? model[head++] : model[--tail];
    if (got !== expected) assert.fail(`pop ${i}: ${got} !== ${expected}`);
  }
  assert.equal(ks.type(0, l), undefined);
  assert.equal(ks.usedBytes(), start + 16);
});

Deno.test("keyspace: an expired key is never seen and is deleted on access (lazy expiry)", () => {
  const { ks } = store();
  const k = text("k");
  ks.setString(0, k, text("v"), { expireAt: ks.now + 100 });
  assert.equal(ks.expireAt(0, k), ks.now + 100);
  assert.equal(ks.expiringSize(0), 1);
  ks.now += 100; // at the deadline it still lives (Redis: expired when now > deadline)
  assert.equal(str(ks.getString(0, k)), "v");
  ks.now += 1;
  assert.equal(ks.getString(0, k), undefined);
  assert.equal(ks.size(0), 0);
  assert.equal(ks.expiringSize(0), 0);

  ks.setString(0, k, text("v"), { expireAt: ks.now + 50 });
  ks.setString(0, k, text("w"), { keepTtl: true });
  assert.equal(ks.expireAt(0, k), ks.now + 50);
  ks.setString(0, k, text("x")); // a plain SET drops the deadline
  assert.equal(ks.expireAt(0, k), undefined);
  assert.equal(ks.expiringSize(0), 0);
  assert.ok(ks.setExpireAt(0, k, ks.now + 10));
  assert.ok(ks.setExpireAt(0, k, undefined));
  assert.equal(ks.expireAt(0, k), undefined);
  assert.ok(!ks.setExpireAt(0, text("missing"), ks.now));
  ks.setExpireAt(0, k, ks.now + 10);
  ks.now += 11;
  assert.equal(ks.type(0, k), undefined);
  assert.ok(!ks.delete(0, k));
});

Deno.test("keyspace: active expiry deletes only expired keys, in every database", () => {
  const { ks } = store();
  for (let db = 0; db < 3; db++) {
    for (let i = 0; i < 200; i++) {
      const at = i % 2 === 0 ? ks.now + 10 : i % 4 === 1 ? ks.now + 100_000 : undefined;
      ks.setString(db, text(`k${i}`), text("v"), at === undefined ? {} : { expireAt: at });
    }
  }
  assert.equal(ks.expireSome(1000), 0);
  ks.now += 11;
  let deleted = 0;
  for (let round = 0; round < 100; round++) deleted += ks.expireSome(20);
  assert.equal(deleted, 300);
  for (let db = 0; db < 3; db++) {
    assert.equal(ks.size(db), 100);
    assert.equal(ks.expiringSize(db), 50);
    assert.equal(str(ks.getString(db, text("k1"))), "v");
  }
});

Deno.test("keyspace: rename, copy, swap and flush move values and deadlines", () => {
  const { ks } = store();
  const start = ks.usedBytes();
  ks.setString(0, text("a"), text("1"), { expireAt: ks.now + 500 });
  ks.listPush(0, text("l"), "right", [text("x"), text("y")]);
  ks.hashSet(0, text("h"), text("f"), text("v"));
  ks.zsetAdd(0, text("z"), text("m"), 5);
  ks.setString(0, text("b"), text("old"));
  ks.rename(0, text("a"), text("b"));
  assert.equal(ks.type(0, text("a")), undefined);
  assert.equal(str(ks.getString(0, text("b"))), "1");
  assert.equal(ks.expireAt(0, text("b")), ks.now + 500);
  assert.equal(ks.expiringSize(0), 1);

  assert.ok(ks.copy(0, text("l"), 1, text("l2"), false));
  assert.ok(!ks.copy(0, text("l"), 1, text("l2"), false));
  ks.listPush(1, text("l2"), "right", [text("z")]);
  assert.deepEqual(strs(ks.listRange(0, text("l"), 0, 1)), ["x", "y"]);
  assert.deepEqual(strs(ks.listRange(1, text("l2"), 0, 2)), ["x", "y", "z"]);
  assert.ok(ks.copy(0, text("h"), 0, text("h2"), false));
  assert.ok(ks.copy(0, text("z"), 0, text("h2"), true)); // replaces the hash copy
  assert.equal(ks.type(0, text("h2")), "zset");
  assert.equal(ks.zsetScore(0, text("h2"), text("m")), 5);
  assert.ok(ks.copy(0, text("b"), 2, text("b"), false));
  assert.equal(ks.expireAt(2, text("b")), ks.now + 500);
  ks.rename(0, text("h"), text("z")); // replaces a sorted set with a hash
  assert.equal(str(ks.hashGet(0, text("z"), text("f"))), "v");

  ks.swap(0, 1);
  assert.equal(ks.size(0), 1);
  assert.deepEqual(strs(ks.listRange(0, text("l2"), 0, 2)), ["x", "y", "z"]);
  assert.equal(str(ks.getString(1, text("b"))), "1");
  assert.equal(ks.expiringSize(1), 1);
  for (let db = 0; db < 3; db++) ks.flush(db);
  for (let db = 0; db < 3; db++) assert.equal(ks.size(db) + ks.expiringSize(db), 0);
  assert.equal(ks.usedBytes(), start);
});

Deno.test("keyspace: a resumed store has the same contents, deadlines and sorted-set order", () => {
  const seed = 0x2e5;
  console.log(`resume seed ${seed}`);
  const random = new Prng(seed);
  const { mem, ks } = store();
  for (let i = 0; i < 500; i++) {
    ks.setString(i % 16, text(`s${i}`), text(`v${i}`), i % 3 === 0 ? { expireAt: 5e12 + i } : {});
    ks.zsetAdd(0, text("z"), text(`m${random.int(0, 300)}`), random.int(0, 50));
  }
  ks.hashSet(3, text("h"), text("f"), text("v"));
  ks.setAdd(4, text("set"), text("m"));
  ks.listPush(5, text("l"), "left", [text("a"), text("b")]);
  const order = (k: NvmKeyspace) =>
    k.zsetRange(0, text("z"), 0, k.zsetSize(0, text("z")) - 1).map(([m, s]) => `${str(m)}:${s}`);
  const before = order(ks);
  const again = resumed(mem);
  again.now = ks.now;
  assert.equal(again.usedBytes(), ks.usedBytes());
  for (let i = 0; i < 500; i++) {
    assert.equal(str(again.getString(i % 16, text(`s${i}`))), `v${i}`);
    assert.equal(again.expireAt(i % 16, text(`s${i}`)), i % 3 === 0 ? 5e12 + i : undefined);
  }
  assert.deepEqual(order(again), before);
  assert.equal(str(again.hashGet(3, text("h"), text("f"))), "v");
  assert.ok(again.setHas(4, text("set"), text("m")));
  assert.deepEqual(strs(again.listRange(5, text("l"), 0, 1)), ["b", "a"]);
  // The rebuilt index stays in step with changes made after the resume.
  again.zsetAdd(0, text("z"), text("m0"), -5);
  again.zsetRemove(0, text("z"), text(before[before.length - 1].split(":")[0]));
  const expected = before.filter((e) => !e.startsWith("m0:")).slice(0, -1);
  assert.deepEqual(order(again), ["m0:-5", ...expected]);
});

Deno.test("keyspace: scan and randomKey see every live key and no expired one", () => {
  const { ks } = store();
  for (let i = 0; i < 300; i++) {
    ks.setString(0, text(`k${i}`), text("v"), i < 100 ? { expireAt: ks.now + 1 } : {});
  }
  ks.now += 2;
  const seen = new Set<string>();
  let cursor = 0;
  do {
    const step = ks.scan(0, cursor, 10);
    for (const k of step.keys) seen.add(str(k)!);
    cursor = step.cursor;
  } while (cursor !== 0);
  assert.equal(seen.size, 200);
  for (let i = 100; i < 300; i++) assert.ok(seen.has(`k${i}`));
  for (let i = 0; i < 50; i++) assert.ok(Number(str(ks.randomKey(0))!.slice(1)) >= 100);
  assert.equal(ks.randomKey(7), undefined);
});

Deno.test("keyspace: a call that runs out of memory throws E_NO_MEMORY and changes nothing", () => {
  const { ks, heap } = store(64);
  const fill = (prefix: string, value: Uint8Array) => {
    let n = 0;
    try {
      for (;; n++) ks.setString(0, text(`${prefix}${n}`), value, { expireAt: ks.now + 1e9 });
    } catch (e) {
      assert.ok(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY);
    }
    return n;
  };
  const bigs = fill("big", new Uint8Array(5000)); // the pages go to 2-page strings
  const smalls = fill("k", text("v")); // then what small blocks are left
  assert.ok(bigs > 0);
  const figures = () => [ks.usedBytes(), ks.size(0), ks.expiringSize(0), ks.size(1)];
  const before = figures();
  const value = text("w".repeat(1500)); // a size class no run was made for
  const attempts: Array<[string, () => unknown]> = [
    ["set", () => ks.setString(0, text("new"), value, { expireAt: 1 })],
    ["hset", () => ks.hashSet(0, text("h"), text("f"), value)],
    ["rpush", () => ks.listPush(0, text("l"), "right", [text("a"), value])],
    ["zadd", () => ks.zsetAdd(0, text("z"), value, 1)],
    ["sadd", () => ks.setAdd(0, text("s"), value)],
    ["append", () => ks.appendString(0, text("big0"), new Uint8Array(5000))],
    ["copy", () => ks.copy(0, text("big0"), 1, text("big0"), false)],
    ["overwrite", () => ks.setString(0, text("big1"), value)],
  ];
  for (const [name, attempt] of attempts) {
    assert.throws(
      attempt,
      (e: unknown) => e instanceof TardigradeError && e.code === Err.E_NO_MEMORY,
      name,
    );
    assert.deepEqual(figures(), before, `${name} changed the keyspace`);
  }
  for (const key of ["new", "h", "l", "z", "s"]) assert.equal(ks.type(0, text(key)), undefined);
  assert.equal(ks.type(1, text("big0")), undefined);
  for (let k = 0; k < bigs; k++) assert.equal(ks.stringLength(0, text(`big${k}`)), 5000);
  for (let k = 0; k < smalls; k++) assert.equal(ks.stringLength(0, text(`k${k}`)), 1);
  heap.check();
});

Deno.test("keyspace: every byte it changes is on a page the write barrier marked dirty", () => {
  const seed = 0xba77;
  console.log(`barrier seed ${seed}`);
  const random = new Prng(seed);
  const { mem, ks, pageState, heap } = store(1024);
  for (let round = 0; round < 5; round++) {
    pageState.fill(PageState.CLEAN); // as a checkpoint leaves them
    const before = mem.bytes.slice();
    for (let op = 0; op < 3000; op++) {
      const key = text(`k${random.int(0, 300)}`);
      const type = ks.type(0, key);
      const value = new Uint8Array(random.int(0, 9) === 0 ? 3000 : random.int(0, 40)).fill(op);
      const kind = random.int(0, 7);
      if (kind === 0) ks.delete(0, key);
      else if (kind === 1 && (type ?? "string") === "string") {
        ks.appendString(0, key, new Uint8Array(random.int(0, 6000)).fill(op)); // grows past pages
      } else if (kind === 2 && (type ?? "string") === "string") {
        ks.setString(0, key, value, { expireAt: ks.now + random.int(-5, 5) });
      } else if (kind === 3 && (type ?? "list") === "list") {
        ks.listPush(0, key, random.int(0, 1) ? "left" : "right", [value]);
        if (ks.listLength(0, key) > 20) ks.listPop(0, key, "left", 5);
      } else if (kind === 4 && (type ?? "hash") === "hash") {
        ks.hashSet(0, key, text(`f${random.int(0, 9)}`), value);
      } else if (kind === 5 && (type ?? "zset") === "zset") {
        ks.zsetAdd(0, key, text(`m${random.int(0, 9)}`), random.int(0, 5));
      } else if (kind === 6 && (type ?? "set") === "set") ks.setAdd(0, key, text(`${op % 13}`));
      else if (kind === 7 && type !== undefined) ks.copy(0, key, 1, key, true);
    }
    ks.now += 3;
    ks.expireSome(100);
    heap.check();
    for (let page = 0; page < mem.pageCount; page++) {
      const from = page * PAGE_BYTES;
      const changed = mem.bytes.subarray(from, from + PAGE_BYTES).some((b, i) =>
        b !== before[from + i]
      );
      if (changed && pageState[page] !== PageState.DIRTY) {
        assert.fail(`round ${round}: page ${page} changed but is not DIRTY`);
      }
    }
  }
});
