/**
 * File data in the storage (servers/fs/store/data.ts, pages.ts): holes
 * read as zeros, truncation frees blocks and zeroes what it cuts, every
 * block comes back when everything is removed, a large sparse file is
 * filled from both ends and at random and truncated, ENOSPC is a short
 * write, and a client over its quota gets ENOSPC while another writes on.
 *
 * Run: `deno test tests/fs/store/data_test.ts`.
 */

import assert from "node:assert/strict";
import { Prng } from "../../../kernel/abi/prng.ts";
import { FS_BLOCK_BYTES, OpenFlag } from "../../../servers/fs/vfs.ts";
import { errnoOf, fresh, names, put } from "./fixture.ts";

const { RDWR, CREAT, WRONLY } = OpenFlag;
const PAGE = FS_BLOCK_BYTES;

Deno.test("data: holes read as zeros and hold no blocks", () => {
  const { fs } = fresh();
  const fd = fs.open(1, 1, "/f", CREAT | RDWR);
  fs.pwrite(1, fd, 10 * PAGE + 5, new Uint8Array([7]));
  const st = fs.fstat(1, fd);
  assert.deepEqual([st.size, st.blocks], [10 * PAGE + 6, 1]);
  const all = fs.pread(1, fd, 0, st.size);
  assert.equal(all.length, st.size);
  assert.equal(all.findIndex((b) => b !== 0), 10 * PAGE + 5);
  fs.close(1, fd);
});

Deno.test("data: truncate down frees blocks and zeroes the cut tail, so growing again reads zeros", () => {
  const { fs } = fresh();
  const start = fs.space().freeBlocks;
  put(fs, "/f", new Uint8Array(5 * PAGE).fill(0xaa));
  assert.equal(fs.space().freeBlocks, start - 5);
  fs.truncate("/f", PAGE + 10);
  assert.equal(fs.stat("/f").blocks, 2);
  assert.equal(fs.space().freeBlocks, start - 2);
  assert.equal(fs.charged(1), 2);
  fs.truncate("/f", 3 * PAGE);
  const fd = fs.open(1, 1, "/f", OpenFlag.RDONLY);
  const b = fs.read(1, fd, 3 * PAGE);
  fs.close(1, fd);
  assert.ok(b.subarray(0, PAGE + 10).every((x) => x === 0xaa));
  assert.ok(b.subarray(PAGE + 10).every((x) => x === 0), "bytes past a truncation read as zeros");
});

Deno.test("data: after removing everything, every block and inode is free again", () => {
  const { fs } = fresh(512);
  const start = fs.space();
  const random = new Prng(0xf1e5);
  console.log("data churn seed 0xf1e5");
  fs.mkdir("/d", 0o755);
  for (let i = 0; i < 40; i++) {
    const fd = fs.open(1, 1, `/d/f${i}`, CREAT | RDWR);
    for (let k = 0; k < 5; k++) {
      fs.pwrite(1, fd, random.int(0, 300 * PAGE), new Uint8Array(random.int(1, 3 * PAGE)));
    }
    if (i % 3 === 0) fs.ftruncate(1, fd, random.int(0, 100 * PAGE));
    if (i % 5 === 0) fs.link(`/d/f${i}`, `/d/l${i}`);
    fs.close(1, fd);
  }
  for (const name of names(fs, "/d")) fs.unlink(`/d/${name}`);
  fs.rmdir("/d");
  const end = fs.space();
  assert.equal(end.freeBlocks, start.freeBlocks);
  assert.equal(end.inodes, start.inodes);
  assert.equal(fs.charged(1), 0);
  fs.check();
});

Deno.test("data: a full NVM gives a short write, then ENOSPC, and changes nothing when refused", () => {
  const { fs } = fresh(64);
  const fd = fs.open(1, 1, "/big", CREAT | WRONLY);
  const n = fs.write(1, fd, new Uint8Array(100 * PAGE).fill(1));
  assert.equal(n, 64 * PAGE);
  assert.equal(fs.space().freeBlocks, 0);
  const before = fs.fstat(1, fd);
  assert.equal(errnoOf(() => fs.write(1, fd, new Uint8Array(1))), "ENOSPC");
  assert.deepEqual(fs.fstat(1, fd), before);
  fs.pwrite(1, fd, 0, new Uint8Array(PAGE).fill(2)); // overwriting needs no block
  fs.ftruncate(1, fd, 0);
  assert.equal(fs.space().freeBlocks, 64);
  fs.close(1, fd);
});

Deno.test("quota: a client over its limit gets ENOSPC while another client writes on", () => {
  const { fs } = fresh(256);
  fs.setQuota(7, 4);
  const a = fs.open(7, 7, "/a", CREAT | WRONLY);
  const b = fs.open(8, 8, "/b", CREAT | WRONLY);
  assert.equal(fs.write(7, a, new Uint8Array(6 * PAGE)), 4 * PAGE); // short at the limit
  assert.equal(errnoOf(() => fs.write(7, a, new Uint8Array(10))), "ENOSPC");
  assert.equal(fs.write(8, b, new Uint8Array(20 * PAGE)), 20 * PAGE);
  assert.deepEqual([fs.charged(7), fs.charged(8)], [4, 20]);
  assert.equal(fs.pwrite(7, a, 0, new Uint8Array(PAGE)), PAGE); // within its blocks: fine
  fs.ftruncate(7, a, PAGE);
  assert.equal(fs.charged(7), 1);
  assert.equal(fs.write(7, a, new Uint8Array(3 * PAGE)), 3 * PAGE);
  fs.setQuota(7, undefined);
  assert.equal(fs.write(7, a, new Uint8Array(3 * PAGE)), 3 * PAGE);
  assert.equal(errnoOf(() => fs.setQuota(7, -1)), "EINVAL");
  fs.closeAll(7);
  fs.closeAll(8);
});

/** Fills a sparse file of `mib` MiB from both ends, at random and whole, then truncates it. */
function bigFile(mib: number): void {
  const pages = (mib * 1024 * 1024) / PAGE;
  const { fs } = fresh(pages + 16);
  const start = fs.space().freeBlocks;
  const fd = fs.open(1, 1, "/big", CREAT | RDWR);
  const last = new Uint8Array(PAGE).fill(0x5a);
  fs.pwrite(1, fd, (pages - 1) * PAGE, last);
  assert.equal(fs.fstat(1, fd).size, pages * PAGE);
  assert.equal(fs.fstat(1, fd).blocks, 1);
  fs.pwrite(1, fd, 0, new Uint8Array(PAGE).fill(0xa5));
  const random = new Prng(mib);
  console.log(`big file ${mib} MiB seed ${mib}`);
  const written = new Map<number, number>();
  for (let i = 0; i < 2000; i++) {
    const p = random.int(1, pages - 2);
    fs.pwrite(1, fd, p * PAGE, new Uint8Array(PAGE).fill(p & 0xff));
    written.set(p, p & 0xff);
  }
  for (const [p, v] of [...written].slice(0, 200)) {
    assert.equal(fs.pread(1, fd, p * PAGE + 100, 1)[0], v);
  }
  assert.equal(fs.pread(1, fd, (pages - 1) * PAGE, 1)[0], 0x5a);
  assert.equal(fs.pread(1, fd, PAGE * (pages - 1) - 1, 1).length, 1);
  assert.equal(fs.fstat(1, fd).blocks, written.size + 2);
  for (let off = 0; off < pages * PAGE; off += 64 * PAGE) { // fill it all, 256 KiB at a time
    fs.pwrite(1, fd, off, new Uint8Array(64 * PAGE).fill(1));
  }
  assert.equal(fs.fstat(1, fd).blocks, pages);
  fs.ftruncate(1, fd, PAGE * 3 + 1);
  assert.equal(fs.fstat(1, fd).blocks, 4);
  fs.ftruncate(1, fd, 0);
  assert.equal(fs.space().freeBlocks, start);
  fs.close(1, fd);
  fs.unlink("/big");
  fs.check();
}

Deno.test("data: a 512 MiB sparse file written at both ends, at random, filled and truncated", () => {
  bigFile(512);
});

Deno.test("data: a page given again to a file shows none of its old bytes", () => {
  const { fs } = fresh(8);
  put(fs, "/old", new Uint8Array(8 * PAGE).fill(0xff)); // every page holds 0xff
  fs.unlink("/old");
  const fd = fs.open(1, 1, "/new", CREAT | RDWR);
  fs.pwrite(1, fd, 100, new Uint8Array([1]));
  fs.pwrite(1, fd, 3 * PAGE - 1, new Uint8Array([2, 3])); // across a page boundary
  const all = fs.pread(1, fd, 0, 3 * PAGE + 1);
  fs.close(1, fd);
  assert.deepEqual(
    [...all.entries()].filter(([, b]) => b !== 0),
    [[100, 1], [3 * PAGE - 1, 2], [3 * PAGE, 3]],
  );
});
