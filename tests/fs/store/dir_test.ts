/**
 * Directories in the storage (servers/fs/store/dir.ts): a directory of
 * 100,000 entries is created, looked up, listed and emptied; a listing
 * taken page by page while names come and go (the table growing, shrinking
 * and rehashing between pages) returns every name present throughout
 * exactly once and nothing that never existed; pages hold at most `max`.
 *
 * Run: `deno test tests/fs/store/dir_test.ts`.
 */

import assert from "node:assert/strict";
import { Prng } from "../../../kernel/abi/prng.ts";
import { OpenFlag } from "../../../servers/fs/vfs.ts";
import { errnoOf, fresh, names } from "./fixture.ts";

Deno.test("dir: 100,000 entries are created, stat'ed, listed once each and unlinked", () => {
  const n = 100_000;
  const { fs } = fresh(1024, 1, 8192); // 32 MiB of metadata for the names
  fs.mkdir("/big", 0o755);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    fs.close(1, fs.open(1, 1, `/big/file-${i}`, OpenFlag.CREAT | OpenFlag.WRONLY));
  }
  const t1 = performance.now();
  for (let i = 0; i < n; i += 7) assert.equal(fs.stat(`/big/file-${i}`).kind, "file");
  assert.equal(fs.stat("/big").size, n);
  const listed = names(fs, "/big", 1000);
  assert.equal(listed.length, n);
  assert.equal(new Set(listed).size, n);
  const t2 = performance.now();
  for (let i = 0; i < n; i++) fs.unlink(`/big/file-${i}`);
  const t3 = performance.now();
  assert.deepEqual(names(fs, "/big"), []);
  fs.rmdir("/big");
  assert.equal(fs.space().inodes, 1);
  console.log(
    `100k entries: create+close ${((t1 - t0) * 1e6 / n).toFixed(0)} ns each, list ${
      (t2 - t1).toFixed(0)
    } ms with stats, unlink ${((t3 - t2) * 1e6 / n).toFixed(0)} ns each`,
  );
  fs.check();
});

Deno.test("dir: a listing across churn returns each name present throughout exactly once", () => {
  const seed = 0xd1a5;
  console.log(`listing churn seed ${seed}`);
  const random = new Prng(seed);
  const { fs } = fresh(64, 1, 4096); // 16 MiB of metadata for 23,000 directories
  fs.mkdir("/d", 0o755);
  const stable = new Set<string>();
  for (let i = 0; i < 3000; i++) {
    fs.mkdir(`/d/s${i}`, 0o755);
    stable.add(`s${i}`);
  }
  const transient = new Set<string>();
  for (let round = 0; round < 4; round++) {
    const seen = new Map<string, number>();
    let cursor = 0;
    let serial = 0;
    do {
      const max = random.int(1, 50);
      const page = fs.readdir("/d", cursor, max);
      assert.ok(page.entries.length <= max, `a page of ${page.entries.length} > max ${max}`);
      for (const e of page.entries) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
      cursor = page.cursor;
      // between pages: a burst of creates (growth) or removals (shrink below 1/8)
      const grow = random.int(0, 1) === 0 && transient.size < 20_000;
      for (let k = 0; k < 200; k++) {
        if (grow) {
          const name = `t${round}-${serial++}`;
          fs.mkdir(`/d/${name}`, 0o755);
          transient.add(name);
        } else if (transient.size > 0) {
          const name = transient.values().next().value!;
          fs.rmdir(`/d/${name}`);
          transient.delete(name);
        }
      }
    } while (cursor !== 0);
    for (const name of stable) {
      assert.equal(seen.get(name), 1, `round ${round}: ${name} seen ${seen.get(name) ?? 0} times`);
    }
    for (const [name, count] of seen) {
      assert.ok(stable.has(name) || name.startsWith("t"), `${name} never existed`);
      assert.ok(count === 1, `round ${round}: ${name} seen ${count} times`);
    }
  }
});

Deno.test("dir: readdir refuses a file, a bad cursor and max < 1", () => {
  const { fs } = fresh();
  fs.close(1, fs.open(1, 1, "/f", OpenFlag.CREAT | OpenFlag.WRONLY));
  assert.equal(errnoOf(() => fs.readdir("/f", 0, 10)), "ENOTDIR");
  assert.equal(errnoOf(() => fs.readdir("/", -1, 10)), "EINVAL");
  assert.equal(errnoOf(() => fs.readdir("/", 0, 0)), "EINVAL");
  assert.deepEqual(fs.readdir("/", 0, 10).entries.map((e) => [e.name, e.kind]), [["f", "file"]]);
});
