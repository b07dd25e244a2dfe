/**
 * The in-process side of the file system: {@link LocalFsApi}, the program's
 * contract (servers/fs/vfs.ts `FsApi`) over a synchronous `FileSystem`
 * held in this process, with no IPC and no machine. Tests, the
 * differential test (tools/fs_diff.ts) and the bench's in-process figures
 * use it.
 *
 * Map of this file:
 * - {@link LocalFsApi}: one owner and one client, fixed per instance;
 *   every call runs the storage's call at once; `fsync` checks the
 *   descriptor and `sync` resolves at once (there is no checkpoint here);
 * - {@link openLocalFs}: the storage (servers/fs/store/) over fresh
 *   memory objects made here, as the FS server would make them, and an
 *   adapter over it; {@link LocalFs.reset} makes it fresh again in place;
 * - {@link READDIR_PAGE_MAX}: entries asked per page of a listing.
 *
 * @module
 */

import type { FileSystem, FsApi, FsDirEntry, FsSpace, FsStat, Whence } from "../servers/fs/vfs.ts";
import type { PmoBuffers } from "../kernel/abi/layout.ts";
import { allocatePmoBuffers, PersistentMemory } from "../kernel/abi/pmem.ts";
import { fsMetaPagesFor, openFsStore } from "../servers/fs/store/mod.ts";

/** Entries one readdir page asks for. */
export const READDIR_PAGE_MAX = 64;
/** Pages one listing may take before it counts as endless (a cursor that never ends). */
const READDIR_PAGES_MAX = 1 << 20;

/**
 * The program's view of a `FileSystem` in this process.
 *
 * @example
 * ```ts
 * const api = new LocalFsApi(fs, 1, 1);
 * const fd = await api.open("/a", OpenFlag.CREAT | OpenFlag.RDWR, 0o644);
 * ```
 */
export class LocalFsApi implements FsApi {
  /**
   * @param fs the storage
   * @param owner the owner of this instance's descriptors (a connection id)
   * @param client the client new files are charged to (a badge)
   */
  constructor(readonly fs: FileSystem, readonly owner = 1, readonly client = 1) {}

  /** Runs `f` now; its value or its error as a promise. */
  private run<T>(f: () => T): Promise<T> {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  open(path: string, flags: number, mode?: number): Promise<number> {
    return this.run(() => this.fs.open(this.owner, this.client, path, flags, mode));
  }
  close(fd: number): Promise<void> {
    return this.run(() => this.fs.close(this.owner, fd));
  }
  read(fd: number, length: number): Promise<Uint8Array> {
    return this.run(() => this.fs.read(this.owner, fd, length));
  }
  write(fd: number, data: Uint8Array): Promise<number> {
    return this.run(() => this.fs.write(this.owner, fd, data));
  }
  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    return this.run(() => this.fs.pread(this.owner, fd, offset, length));
  }
  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    return this.run(() => this.fs.pwrite(this.owner, fd, offset, data));
  }
  seek(fd: number, offset: number, whence: Whence): Promise<number> {
    return this.run(() => this.fs.seek(this.owner, fd, offset, whence));
  }
  ftruncate(fd: number, length: number): Promise<void> {
    return this.run(() => this.fs.ftruncate(this.owner, fd, length));
  }
  fstat(fd: number): Promise<FsStat> {
    return this.run(() => this.fs.fstat(this.owner, fd));
  }
  fsync(fd: number): Promise<void> {
    return this.run(() => this.fs.fsync(this.owner, fd));
  }
  stat(path: string): Promise<FsStat> {
    return this.run(() => this.fs.stat(path));
  }
  lstat(path: string): Promise<FsStat> {
    return this.run(() => this.fs.lstat(path));
  }
  truncate(path: string, length: number): Promise<void> {
    return this.run(() => this.fs.truncate(path, length));
  }
  readdir(path: string): Promise<FsDirEntry[]> {
    return this.run(() => {
      const out: FsDirEntry[] = [];
      let cursor = 0;
      for (let pages = 0; pages < READDIR_PAGES_MAX; pages++) {
        const page = this.fs.readdir(path, cursor, READDIR_PAGE_MAX);
        out.push(...page.entries);
        if (page.cursor === 0) return out;
        cursor = page.cursor;
      }
      throw new Error(`readdir ${path}: the listing did not end in ${READDIR_PAGES_MAX} pages`);
    });
  }
  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.run(() => this.fs.mkdir(path, mode));
  }
  rmdir(path: string): Promise<void> {
    return this.run(() => this.fs.rmdir(path));
  }
  unlink(path: string): Promise<void> {
    return this.run(() => this.fs.unlink(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.run(() => this.fs.rename(from, to));
  }
  link(from: string, to: string): Promise<void> {
    return this.run(() => this.fs.link(from, to));
  }
  symlink(target: string, path: string): Promise<void> {
    return this.run(() => this.fs.symlink(target, path));
  }
  readlink(path: string): Promise<string> {
    return this.run(() => this.fs.readlink(path));
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.run(() => this.fs.chmod(path, mode));
  }
  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.run(() => this.fs.utimes(path, atimeMs, mtimeMs));
  }
  space(): Promise<FsSpace> {
    return this.run(() => this.fs.space());
  }
  /** Resolves at once: in-process there is no checkpoint to wait for. */
  sync(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Fresh buffers for the storage, numbered as the FS server's PMOs are laid
 * out: a metadata PMO of `metaPages` (default what the storage recommends,
 * `fsMetaPagesFor`), then `segments` data segments of `segmentPages` each.
 */
export function storeBuffers(segmentPages: number, segments = 1, metaPages?: number): PmoBuffers[] {
  const buffers = [allocatePmoBuffers(1, metaPages ?? fsMetaPagesFor(segmentPages * segments))];
  for (let i = 0; i < segments; i++) buffers.push(allocatePmoBuffers(2 + i, segmentPages));
  return buffers;
}

/** Metadata pages {@link openLocalFs} makes by default: enough for the tests' trees, quick to zero. */
export const LOCAL_META_PAGES = 128;

/** The storage in this process over memory objects of its own, and an adapter over it. */
export interface LocalFs {
  fs: FileSystem;
  api: LocalFsApi;
  /** The metadata memory object's buffers, then the data segment's. */
  buffers: PmoBuffers[];
  /** Zeroes the memory objects and formats them again: a fresh tree, a fresh adapter. */
  reset(): void;
}

/**
 * The storage over a fresh metadata memory object of `metaPages` pages and
 * one data segment of `pages` pages (ids 1 and 2), with `now` as its
 * clock, and a {@link LocalFsApi} over it (owner 1, client 1).
 *
 * @example
 * ```ts
 * const local = openLocalFs(256);
 * await local.api.mkdir("/d", 0o755);
 * ```
 */
export function openLocalFs(
  pages = 256,
  metaPages = LOCAL_META_PAGES,
  now: () => number = Date.now,
): LocalFs {
  const buffers = storeBuffers(pages, 1, metaPages);
  const open = () => {
    const [meta, ...segments] = buffers.map((b) => new PersistentMemory(b));
    return openFsStore(meta, segments, now).fs;
  };
  const local: LocalFs = {
    fs: open(),
    api: undefined as unknown as LocalFsApi,
    buffers,
    reset() {
      for (const b of buffers) {
        new Uint8Array(b.data).fill(0);
        new Uint8Array(b.pageState).fill(0);
      }
      local.fs = open();
      local.api = new LocalFsApi(local.fs);
    },
  };
  local.api = new LocalFsApi(local.fs);
  return local;
}
