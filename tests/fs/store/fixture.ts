/**
 * Memory objects for the file-system storage tests: a metadata PMO and
 * data segments as the FS server would make them, the store opened over
 * them, a second store over the same buffers (what a resume attaches),
 * and short spellings of the calls.
 *
 * @module
 */

import { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { storeBuffers } from "../../../tools/fs_local.ts";
import type { PmoBuffers } from "../../../kernel/abi/layout.ts";
import { type NvmFileSystem, openFsStore } from "../../../servers/fs/store/mod.ts";
import type { Prng } from "../../../kernel/abi/prng.ts";
import { FsError, OpenFlag, Whence } from "../../../servers/fs/vfs.ts";

/** A store and the buffers under it. */
export interface Fixture {
  fs: NvmFileSystem;
  meta: PersistentMemory;
  segments: PersistentMemory[];
  buffers: PmoBuffers[];
  /** The clock the store reads; set it to move time. */
  clock: { ms: number };
}

/** A fresh store of `segments` data segments of `pagesPerSegment` pages each. */
export function fresh(pagesPerSegment = 256, segments = 1, metaPages?: number): Fixture {
  return open(storeBuffers(pagesPerSegment, segments, metaPages), { ms: 1_000_000 });
}

/** The store over `buffers` (metadata first), formatted or attached. */
export function open(buffers: PmoBuffers[], clock = { ms: 1_000_000 }): Fixture {
  const mems = buffers.map((b) => new PersistentMemory(b));
  const { fs } = openFsStore(mems[0], mems.slice(1), () => clock.ms);
  return { fs: fs as NvmFileSystem, meta: mems[0], segments: mems.slice(1), buffers, clock };
}

/** A second store over the same buffers, as a resume attaches them. */
export function reattach(f: Fixture): Fixture {
  return open(f.buffers, f.clock);
}

/** The POSIX name `fn` threw, or "ok". */
export function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    const fe = FsError.from(e);
    if (fe) return fe.errnoName;
    throw e;
  }
}

/** UTF-8 bytes of `s`. */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Text of `b`. */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Creates `path` holding `content` (owner 1, client 1). */
export function put(fs: NvmFileSystem, path: string, content: string | Uint8Array): void {
  const fd = fs.open(1, 1, path, OpenFlag.CREAT | OpenFlag.WRONLY | OpenFlag.TRUNC, 0o644);
  fs.write(1, fd, typeof content === "string" ? bytes(content) : content);
  fs.close(1, fd);
}

/** The whole content of `path` (owner 1). */
export function get(fs: NvmFileSystem, path: string): string {
  const fd = fs.open(1, 1, path, OpenFlag.RDONLY);
  const out = fs.read(1, fd, fs.fstat(1, fd).size);
  fs.close(1, fd);
  return text(out);
}

/** Every entry name of the directory at `path`, sorted, read `max` at a time. */
export function names(fs: NvmFileSystem, path: string, max = 64): string[] {
  const out: string[] = [];
  let cursor = 0;
  do {
    const page = fs.readdir(path, cursor, max);
    for (const e of page.entries) out.push(e.name);
    cursor = page.cursor;
  } while (cursor !== 0);
  return out.sort();
}

/**
 * Everything a program can see of `fs`: every name with its lstat, a
 * digest of every file's bytes, every symlink's target, the space figures
 * (the heap's bytes in use too: the tables of the few names these tests
 * use finish a rehash inside the insert that started it, so a lookup frees
 * no old buckets), the charges of clients 0…9 and the offsets of owner 1's
 * descriptors 0…9.
 */
export function visible(fs: NvmFileSystem): unknown {
  const tree: unknown[] = [];
  const attempt = <T>(fn: () => T): T | string => {
    try {
      return fn();
    } catch (e) {
      const fe = FsError.from(e);
      if (!fe) throw e;
      return fe.errnoName;
    }
  };
  const walk = (dir: string) => {
    const listed = attempt(() => names(fs, dir));
    if (typeof listed === "string") return tree.push([dir, listed]);
    for (const name of listed) {
      const path = `${dir === "/" ? "" : dir}/${name}`;
      const st = attempt(() => fs.lstat(path));
      let body: unknown = "";
      if (typeof st === "string") body = st;
      else if (st.kind === "file") {
        body = attempt(() => {
          const fd = fs.open(999, 0, path, OpenFlag.RDONLY | OpenFlag.NOFOLLOW);
          const b = fs.read(999, fd, st.size);
          let h = 0x811c9dc5;
          for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619);
          return `${b.length}:${h >>> 0}`;
        });
      } else if (st.kind === "symlink") body = fs.readlink(path);
      tree.push([path, st, body]);
      if (typeof st !== "string" && st.kind === "dir") walk(path);
    }
  };
  try {
    walk("/");
  } finally {
    fs.closeAll(999);
  }
  const space = fs.space();
  const offsets: unknown[] = [];
  for (let fd = 0; fd < 10; fd++) {
    try {
      offsets.push([fd, fs.seek(1, fd, 0, 1), fs.fstat(1, fd)]);
    } catch (e) {
      if (!FsError.from(e)) throw e;
    }
  }
  const charged = [...Array(10).keys()].map((c) => fs.charged(c));
  return { tree, space, offsets, charged, root: fs.stat("/") };
}

const PATHS = ["/a", "/b", "/d", "/d/c", "/d/e", "/d/e/f", "/l", "/a/x", "/d/", "/l/"];

/** One random operation on `fs` over a few names, with a label saying what it is. */
export function randomOp(fs: NvmFileSystem, random: Prng): [string, () => unknown] {
  const p = PATHS[random.int(0, PATHS.length - 1)];
  const q = PATHS[random.int(0, PATHS.length - 1)];
  const fd = random.int(0, 4);
  const flags = [
    OpenFlag.RDONLY,
    OpenFlag.WRONLY | OpenFlag.CREAT,
    OpenFlag.RDWR | OpenFlag.CREAT | OpenFlag.EXCL,
    OpenFlag.WRONLY | OpenFlag.TRUNC,
    OpenFlag.RDWR | OpenFlag.APPEND | OpenFlag.CREAT,
    OpenFlag.RDONLY | OpenFlag.DIRECTORY,
    OpenFlag.RDONLY | OpenFlag.NOFOLLOW,
  ][random.int(0, 6)];
  const size = [0, 1, 4095, 4097, 9000, 70_000][random.int(0, 5)];
  const offset = [-1, 0, 5000, 300_000, 2 ** 32 + 1][random.int(0, 4)]; // EFBIG without 4 GiB files
  const ops: Array<[string, () => unknown]> = [
    [`open ${p} ${flags}`, () => fs.open(1, 1 + (fd & 1), p, flags, 0o644)],
    [`close ${fd}`, () => fs.close(1, fd)],
    [`write ${fd} ${size}`, () => fs.write(1, fd, new Uint8Array(size).fill(7))],
    [
      `pwrite ${fd} ${offset} ${size}`,
      () => fs.pwrite(1, fd, offset, new Uint8Array(size).fill(9)),
    ],
    [`read ${fd}`, () => fs.read(1, fd, size)],
    [`seek ${fd} ${offset}`, () => fs.seek(1, fd, offset, Whence.CUR)],
    [`ftruncate ${fd} ${offset}`, () => fs.ftruncate(1, fd, offset)],
    [`truncate ${p} ${size}`, () => fs.truncate(p, size)],
    [`mkdir ${p}`, () => fs.mkdir(p, random.int(0, 3) === 0 ? 0o500 : 0o755)],
    [`rmdir ${p}`, () => fs.rmdir(p)],
    [`unlink ${p}`, () => fs.unlink(p)],
    [`rename ${p} ${q}`, () => fs.rename(p, q)],
    [`link ${p} ${q}`, () => fs.link(p, q)],
    [`symlink ${q} ${p}`, () => fs.symlink(q, p)],
    [`chmod ${p}`, () => fs.chmod(p, random.int(0, 1) ? 0o755 : 0o300)],
    [`readdir ${p}`, () => fs.readdir(p, 0, 2)],
    [`stat ${p}`, () => fs.stat(p)],
  ];
  return ops[random.int(0, ops.length - 1)];
}
