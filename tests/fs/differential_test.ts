/**
 * The file-system differential test (tools/fs_diff.ts): the harness
 * itself first (the host against the host agrees on every sequence; an
 * FsApi that drops a link count, or says ENOENT for EEXIST, is caught),
 * then the storage in this process (tools/fs_local.ts) against the host:
 * every sequence of 1 and 2 operations of the bounded ACE set, every
 * sequence of 3, and seeded runs of a few thousand operations.
 *
 * No difference is passed over: each one fails.
 *
 * Run: `deno test --allow-read --allow-write tests/fs/differential_test.ts`.
 */

import assert from "node:assert/strict";
import { HostFsApi } from "../../tools/fs_host.ts";
import {
  ACE_DATA_PAGES,
  type DiffRun,
  formatMismatch,
  hostPair,
  localPair,
  runExhaustive,
  runSeeded,
  runSeededMany,
} from "../../tools/fs_diff.ts";
import { type FsApi, FsErrno, FsError, type FsStat } from "../../servers/fs/vfs.ts";

/** The text of a run's mismatches, for a failing assertion. */
function shown(run: DiffRun): string {
  return run.mismatches.map(({ m, origin }) => formatMismatch(m, origin)).join("\n");
}

/** An FsApi that forwards every call to `inner`, with `change` around each. */
function wrapped(inner: FsApi, change: Partial<FsApi>): FsApi {
  return new Proxy(inner, {
    get(target, key, receiver) {
      const own = (change as Record<PropertyKey, unknown>)[key];
      if (own !== undefined) return own;
      const v = Reflect.get(target, key, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** A host FsApi whose stats drop one link of a file with several. */
function dropsLinkCount(inner: HostFsApi): FsApi {
  const drop = (s: FsStat) => s.nlink > 1 && s.kind === "file" ? { ...s, nlink: s.nlink - 1 } : s;
  return wrapped(inner, {
    stat: async (p) => drop(await inner.stat(p)),
    lstat: async (p) => drop(await inner.lstat(p)),
    fstat: async (fd) => drop(await inner.fstat(fd)),
  });
}

/** A host FsApi whose mkdir and open say ENOENT where the host says EEXIST. */
function enoentForEexist(inner: HostFsApi): FsApi {
  const swap = <T>(p: Promise<T>) =>
    p.catch((e) => {
      throw FsError.from(e)?.errno === FsErrno.EEXIST ? new FsError(FsErrno.ENOENT, "wrong") : e;
    });
  return wrapped(inner, {
    mkdir: (p, m) => swap(inner.mkdir(p, m)),
    open: (p, f, m) => swap(inner.open(p, f, m)),
  });
}

Deno.test("the harness: the host against the host agrees on every sequence of 1 and 2 ACE operations", async () => {
  const sides = hostPair();
  for (const length of [1, 2]) {
    const run = await runExhaustive(sides.pair, length);
    assert.equal(run.mismatches.length, 0, shown(run));
    assert.ok(run.sequences >= 18 ** length);
  }
  sides.dispose();
});

Deno.test("the harness: the host against the host agrees on seeded runs", async () => {
  const sides = hostPair();
  const run = await runSeededMany(sides.pair, 1, 1500, 300);
  assert.equal(run.mismatches.length, 0, shown(run));
  assert.equal(run.sequences, 5);
  sides.dispose();
});

Deno.test("the harness: an FsApi that drops a link count is caught, in a result and in the tree", async () => {
  const a = new HostFsApi(), b = new HostFsApi();
  const wrong = dropsLinkCount(b);
  const pair = () => ({ a, b: wrong, done: () => (a.reset(), b.reset()) });
  const run = await runExhaustive(pair, 1, { maxMismatches: 100 });
  const link = run.mismatches.find(({ m }) => m.index < 0);
  assert.ok(link, "the final tree of a sequence with a hard link must differ");
  assert.match(link.m.a, /nlink=2/);
  assert.match(link.m.b, /nlink=1/);
  const seeded = [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => runSeeded(pair, seed, 300));
  let found = 0;
  for (const r of seeded) found += (await r).mismatches.length;
  assert.ok(found > 0, "seeded runs with links must show the wrong count");
  a.dispose();
  b.dispose();
});

Deno.test("the harness: an FsApi that says ENOENT for EEXIST is caught at that operation", async () => {
  const a = new HostFsApi(), b = new HostFsApi();
  const pair = () => ({ a, b: enoentForEexist(b), done: () => (a.reset(), b.reset()) });
  const run = await runExhaustive(pair, 2);
  assert.equal(run.mismatches.length, 1);
  const m = run.mismatches[0].m;
  assert.equal(m.a, "err EEXIST");
  assert.equal(m.b, "err ENOENT");
  assert.match(formatMismatch(m, run.mismatches[0].origin), /operation \d+: mkdir "\/A\/C"/);
  a.dispose();
  b.dispose();
});

Deno.test("the storage agrees with the host on every sequence of 1 and 2 ACE operations", async () => {
  const sides = localPair(ACE_DATA_PAGES, ACE_DATA_PAGES);
  for (const length of [1, 2]) {
    const run = await runExhaustive(sides.pair, length);
    assert.equal(run.mismatches.length, 0, shown(run));
    assert.equal(run.sequences, 18 ** length);
  }
  sides.dispose();
});

Deno.test("the storage agrees with the host on every sequence of 3 ACE operations", async () => {
  const sides = localPair(ACE_DATA_PAGES, ACE_DATA_PAGES);
  const run = await runExhaustive(sides.pair, 3);
  assert.equal(run.mismatches.length, 0, shown(run));
  assert.equal(run.sequences, 18 ** 3);
  sides.dispose();
});

Deno.test("the storage agrees with the host on seeded runs of 4,000 operations", async () => {
  const sides = localPair();
  const seed = 20_261;
  console.log(`seed ${seed}`);
  const run = await runSeededMany(sides.pair, seed, 4000, 200, { maxMismatches: 5 });
  assert.equal(run.mismatches.length, 0, shown(run));
  assert.equal(run.operations, 4000);
  sides.dispose();
});
