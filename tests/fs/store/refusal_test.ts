/**
 * Check first, change after (servers/fs/store/): in a seeded random run of
 * operations over a few names, some with a full metadata heap or full
 * data blocks, every call that throws leaves everything a program can see
 * as it was (the tree, contents, link counts, space, charges, descriptor
 * offsets); and a call whose heap allocation is refused at any one of its
 * allocations throws ENOSPC with nothing changed and no heap byte leaked.
 *
 * Run: `deno test tests/fs/store/refusal_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { Prng } from "../../../kernel/abi/prng.ts";
import type { PersistentHeap } from "../../../servers/pmem/heap.ts";
import { FsError, OpenFlag } from "../../../servers/fs/vfs.ts";
import type { NvmFileSystem } from "../../../servers/fs/store/mod.ts";
import { fresh, randomOp, visible } from "./fixture.ts";

for (
  const [label, dataPages, metaPages] of [
    ["roomy", 256, 1024],
    ["a full data segment", 24, 1024],
    ["a full metadata heap", 256, 64],
  ] as const
) {
  Deno.test(`refusals change nothing a program sees, with ${label}`, () => {
    const seed = 0x5eed + dataPages + metaPages;
    console.log(`refusal seed ${seed}`);
    const random = new Prng(seed);
    const { fs } = fresh(dataPages, 1, metaPages);
    fs.setQuota(2, 5);
    if (label === "a full metadata heap") { // page-map leaves of one file fill it
      const fill = fs.open(3, 3, "/fill", OpenFlag.CREAT | OpenFlag.WRONLY);
      for (let k = 1; k < 1024; k++) {
        try {
          fs.pwrite(3, fill, k * 4 * 1024 * 1024, new Uint8Array(1));
        } catch (e) {
          if (FsError.from(e)?.errnoName !== "ENOSPC") throw e;
          break;
        }
      }
      fs.close(3, fill);
    }
    let refused = 0;
    const errnos = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const [what, op] = randomOp(fs, random);
      const before = visible(fs);
      try {
        op();
      } catch (e) {
        const fe = FsError.from(e);
        if (!fe) throw e;
        refused++;
        errnos.add(fe.errnoName);
        assert.deepEqual(
          visible(fs),
          before,
          `op ${i}: ${what} threw ${fe.errnoName} and changed things`,
        );
      }
    }
    fs.check();
    console.log(`${refused} refused: ${[...errnos].sort().join(" ")}`);
    assert.ok(refused > 300, "the run exercised refusals");
  });
}

Deno.test("a heap allocation refused at any point of a call leaves nothing changed (ENOSPC)", () => {
  const setup = (fs: NvmFileSystem) => {
    fs.mkdir("/d", 0o755);
    const fd = fs.open(1, 1, "/d/f", OpenFlag.CREAT | OpenFlag.RDWR);
    fs.write(1, fd, new Uint8Array(5000).fill(1));
    fs.close(1, fd);
    fs.closeAll(1);
  };
  const calls: Array<[string, (fs: NvmFileSystem) => unknown]> = [
    ["create", (fs) => fs.open(1, 1, "/d/new", OpenFlag.CREAT | OpenFlag.WRONLY)],
    ["mkdir", (fs) => fs.mkdir("/d/sub", 0o755)],
    ["symlink", (fs) => fs.symlink("/d/f", "/d/l")],
    ["link", (fs) => fs.link("/d/f", "/g")],
    ["rename", (fs) => fs.rename("/d/f", "/h")],
    ["open", (fs) => fs.open(2, 1, "/d/f", OpenFlag.RDONLY)],
    ["grow past 4 MiB", () => undefined], // a pwrite at 5 MiB through a descriptor opened first
    ["quota", (fs) => fs.setQuota(4, 10)],
  ];
  let refusals = 0;
  for (const [name, call] of calls) {
    for (let failAt = 0;; failAt++) {
      const { fs } = fresh(64, 1, 1024);
      setup(fs);
      let fd = -1;
      if (name === "grow past 4 MiB") fd = fs.open(1, 1, "/d/f", OpenFlag.RDWR);
      const heap = (fs as unknown as { heap: PersistentHeap }).heap;
      const before = visible(fs);
      const pagesFree = heap.freePages(); // the blocks may sit in other free-list places after an undo
      const alloc = heap.alloc.bind(heap);
      let n = 0;
      heap.alloc = (size: number) => {
        if (n++ === failAt) {
          throw new TardigradeError(Err.E_NO_MEMORY, `refused allocation ${failAt} of ${name}`);
        }
        return alloc(size);
      };
      let errno = "ok";
      try {
        if (fd >= 0) fs.pwrite(1, fd, 5 * 1024 * 1024, new Uint8Array(10));
        else call(fs);
      } catch (e) {
        errno = FsError.from(e)?.errnoName ?? String(e);
      }
      heap.alloc = alloc;
      if (errno === "ok") {
        assert.ok(n <= failAt, `${name}: allocation ${failAt} was refused, yet the call succeeded`);
        break;
      }
      refusals++;
      assert.equal(errno, "ENOSPC", `${name}, allocation ${failAt} refused`);
      assert.deepEqual(
        visible(fs),
        before,
        `${name}, allocation ${failAt} refused: things changed`,
      );
      assert.equal(heap.freePages(), pagesFree, `${name}, allocation ${failAt}: heap pages leaked`);
      fs.check();
    }
  }
  assert.ok(refusals >= calls.length, `${refusals} refusals`);
});
