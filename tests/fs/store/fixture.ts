/**
 * Memory objects for the file-system storage tests: a metadata PMO and
 * data segments as the FS server would make them, the store opened over
 * them, a second store over the same buffers (what a resume attaches),
 * and short spellings of the calls.
 *
 * @module
 */

import { allocatePmoBuffers, PersistentMemory } from "../../../kernel/abi/pmem.ts";
import type { PmoBuffers } from "../../../kernel/abi/layout.ts";
import { fsMetaPagesFor, type NvmFileSystem, openFsStore } from "../../../servers/fs/store/mod.ts";
import { FsError, OpenFlag } from "../../../servers/fs/vfs.ts";

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
  const buffers = [allocatePmoBuffers(1, metaPages ?? fsMetaPagesFor(pagesPerSegment * segments))];
  for (let i = 0; i < segments; i++) buffers.push(allocatePmoBuffers(2 + i, pagesPerSegment));
  return open(buffers, { ms: 1_000_000 });
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
