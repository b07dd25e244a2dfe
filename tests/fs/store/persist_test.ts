/**
 * The storage across a resume (servers/fs/store/mod.ts): a second
 * `openFsStore` over the same buffers sees the same tree, contents, quotas
 * and open descriptors; memory that holds something else is refused with
 * E_IMAGE_CORRUPT or E_IMAGE_VERSION; and every byte a seeded random run of
 * operations changes lies on a page the write barrier marked DIRTY, in the
 * metadata object and in the data segments alike.
 *
 * Run: `deno test tests/fs/store/persist_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PageState } from "../../../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { Prng } from "../../../kernel/abi/prng.ts";
import { PersistentHeap } from "../../../servers/pmem/heap.ts";
import { fsMetaPagesFor, openFsStore } from "../../../servers/fs/store/mod.ts";
import { OpenFlag, Whence } from "../../../servers/fs/vfs.ts";
import { errnoOf, fresh, get, names, put, randomOp, reattach, text, visible } from "./fixture.ts";

Deno.test("reattach: a second openFsStore over the same buffers has the tree, data and descriptors", () => {
  const first = fresh(128, 2);
  const fs = first.fs;
  fs.mkdir("/d", 0o750);
  put(fs, "/d/a", "alpha");
  fs.symlink("a", "/d/l");
  fs.link("/d/a", "/b");
  fs.setQuota(9, 50);
  const fd = fs.open(3, 9, "/d/q", OpenFlag.CREAT | OpenFlag.RDWR);
  fs.write(3, fd, new Uint8Array(3 * PAGE_BYTES).fill(4)); // pages in both segments over time
  fs.seek(3, fd, 5, Whence.SET);
  const gone = fs.open(3, 9, "/d/a", OpenFlag.RDONLY);
  fs.unlink("/b");
  const space = fs.space();
  const second = reattach(first);
  const again = second.fs;
  assert.deepEqual(names(again, "/d"), ["a", "l", "q"]);
  assert.equal(get(again, "/d/l"), "alpha");
  assert.equal(again.stat("/d").mode, 0o750);
  assert.equal(again.stat("/d/a").nlink, 1);
  assert.deepEqual(again.space(), space);
  assert.equal(again.charged(9), 3);
  assert.equal(again.seek(3, fd, 0, Whence.CUR), 5);
  assert.equal(text(again.pread(3, gone, 0, 5)), "alpha");
  assert.equal(again.open(3, 9, "/d/a", OpenFlag.RDONLY), 2); // 0 and 1 are still open
  assert.equal(again.closeAll(3), 3);
  again.check();
});

Deno.test("reattach: after a seeded random run, a second store sees exactly what the first does", () => {
  const seed = 0xa77a;
  console.log(`reattach seed ${seed}`);
  const random = new Prng(seed);
  const first = fresh(128, 2, 2048);
  first.fs.setQuota(2, 40);
  for (let i = 0; i < 3000; i++) {
    errnoOf(randomOp(first.fs, random)[1]);
    if (i % 500 === 499) {
      const second = reattach(first);
      assert.deepEqual(visible(second.fs), visible(first.fs), `after op ${i}`);
      second.fs.check();
    }
  }
});

Deno.test("reattach: pages beyond the first segment hold their data", () => {
  const first = fresh(16, 4);
  const data = new Uint8Array(60 * PAGE_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  put(first.fs, "/f", data);
  const fd = reattach(first).fs.open(1, 1, "/f", OpenFlag.RDONLY);
  assert.deepEqual(reattach(first).fs.pread(1, fd, 0, data.length), data);
});

Deno.test("open: zeroed memory is formatted, foreign memory refused with an image code", () => {
  const meta = new PersistentMemory(allocatePmoBuffers(1, fsMetaPagesFor(64)));
  const seg = new PersistentMemory(allocatePmoBuffers(2, 64));
  assert.equal(openFsStore(meta, [seg], () => 0).fresh, true);
  assert.equal(openFsStore(meta, [seg], () => 0).fresh, false);
  const code = (fn: () => unknown) => {
    try {
      fn();
      return "ok";
    } catch (e) {
      if (e instanceof TardigradeError) return Err[e.code];
      throw e;
    }
  };
  const other = new PersistentMemory(allocatePmoBuffers(3, 32));
  assert.equal(code(() => openFsStore(meta, [other], () => 0)), "E_IMAGE_CORRUPT");
  const kvHeap = new PersistentMemory(allocatePmoBuffers(4, 64));
  PersistentHeap.format(kvHeap, 1); // a heap without a file system (the kv store's)
  assert.equal(code(() => openFsStore(kvHeap, [seg], () => 0)), "E_IMAGE_CORRUPT");
  const junk = new PersistentMemory(allocatePmoBuffers(5, 64));
  junk.setU32(0, 0xdeadbeef);
  assert.equal(code(() => openFsStore(junk, [seg], () => 0)), "E_IMAGE_CORRUPT");
  const old = new PersistentMemory(allocatePmoBuffers(6, fsMetaPagesFor(64)));
  const oldSeg = new PersistentMemory(allocatePmoBuffers(7, 64));
  openFsStore(old, [oldSeg], () => 0);
  const sb = PersistentHeap.attach(old).root(0);
  old.setU32(sb + 4, 99); // the superblock's layout version
  assert.equal(code(() => openFsStore(old, [oldSeg], () => 0)), "E_IMAGE_VERSION");
});

Deno.test("barrier: every byte each operation of a seeded run changes is on a DIRTY page", () => {
  const seed = 0xba71;
  console.log(`fs barrier seed ${seed}`);
  const random = new Prng(seed);
  const f = fresh(64, 2, 1024);
  const { fs } = f;
  const mems = [f.meta, ...f.segments];
  const states = f.buffers.map((b) => new Uint8Array(b.pageState));
  const words = mems.map((m) => new Int32Array(m.bytes.buffer));
  const paths = ["/a", "/b", "/d/c", "/d/e/f", "/l"];
  fs.mkdir("/d", 0o755);
  fs.setQuota(1, 1000);
  for (let op = 0; op < 600; op++) {
    for (const s of states) s.fill(PageState.CLEAN); // as a checkpoint leaves them
    const before = words.map((w) => w.slice());
    f.clock.ms += 1; // so every time stamp is a change
    const p = paths[random.int(0, paths.length - 1)];
    const q = paths[random.int(0, paths.length - 1)];
    const kind = random.int(0, 12);
    errnoOf(() => {
      if (kind === 0) fs.mkdir("/d/e", 0o755);
      else if (kind === 1) fs.unlink(p);
      else if (kind === 2) fs.rename(p, q);
      else if (kind === 3) fs.link(p, q);
      else if (kind === 4) fs.symlink(p, q);
      else if (kind === 5) fs.truncate(p, random.int(0, 40_000));
      else if (kind === 6) fs.rmdir("/d/e");
      else if (kind === 7) fs.close(1, random.int(0, 6));
      else if (kind === 8) fs.chmod(p, 0o644);
      else if (kind === 9) fs.readdir("/d", 0, 3);
      else if (kind === 10) fs.write(1, random.int(0, 6), new Uint8Array(random.int(1, 5000)));
      else {
        const fd = fs.open(1, 1, p, OpenFlag.CREAT | OpenFlag.RDWR);
        fs.pwrite(1, fd, random.int(0, 30_000), new Uint8Array(random.int(1, 9000)).fill(op));
      }
    });
    words.forEach((w, m) => {
      for (let page = 0; page < mems[m].pageCount; page++) {
        if (states[m][page] === PageState.DIRTY) continue;
        for (let i = page * 1024, end = i + 1024; i < end; i++) {
          if (w[i] !== before[m][i]) {
            assert.fail(`op ${op} (kind ${kind}): PMO ${m} page ${page} changed but is not DIRTY`);
          }
        }
      }
    });
  }
  fs.check();
  assert.ok(fs.space().inodes > 1, "the run left files to look at");
});
