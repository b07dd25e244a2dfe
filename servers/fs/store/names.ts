/**
 * The file system's name operations (stat, readdir, mkdir, rmdir, unlink,
 * rename, link, symlink, chmod, utimes), space and quotas, over the parts
 * mod.ts builds; files.ts adds the descriptor operations to make
 * {@link NvmFileSystem}. Every call checks everything first and then
 * changes the heap (a call that throws changed nothing; a write that runs
 * out of space part-way is a short write). POSIX as Linux does it; see servers/fs/vfs.ts
 * for the choices. Times are not touched by reads (noatime).
 *
 * @module
 */

import type { PersistentHeap } from "../../pmem/heap.ts";
import {
  FILE_BYTES_MAX,
  type FsDirPage,
  FsErrno,
  FsError,
  type FsSpace,
  type FsStat,
  PATH_BYTES_MAX,
} from "../vfs.ts";
import type { FileData } from "./data.ts";
import type { Descriptors } from "./descriptors.ts";
import type { Dirs } from "./dir.ts";
import { I, type Inodes, Kind, kindName } from "./inode.ts";
import type { DataPages, PageMaps } from "./pages.ts";
import { type Follow, fsFail, nameBytes, nameText, Paths, type Resolved } from "./path.ts";
import { noSpace, type Quotas } from "./quota.ts";

/** Superblock fields (see mod.ts). */
export enum SB {
  MAGIC = 0,
  VERSION = 4,
  ROOT = 8,
  INODES = 12,
  ALLOCATOR = 16,
  OWNERS = 20,
  QUOTAS = 24,
  SEGMENTS = 28,
  PER_SEGMENT = 32,
}

/** What the file system is built from. */
export interface StoreParts {
  heap: PersistentHeap;
  /** Address of the superblock. */
  sb: number;
  inodes: Inodes;
  dirs: Dirs;
  pages: DataPages;
  maps: PageMaps;
  quotas: Quotas;
  data: FileData;
  descriptors: Descriptors;
  /** The root directory's inode. */
  root: number;
  now: () => number;
}

/** Owner permission bits a call needs: read, write, write and search (a directory's entries). */
export const R_OK = 0o400;
/** See {@link R_OK}. */
export const W_OK = 0o200;
/** See {@link R_OK}. */
export const WX_OK = 0o300;

/**
 * The name operations of the file system (see the module map), and what
 * they share with the descriptor operations of {@link NvmFileSystem}.
 */
export class Names {
  protected readonly heap: PersistentHeap;
  protected readonly inodes: Inodes;
  protected readonly dirs: Dirs;
  protected readonly pages: DataPages;
  protected readonly data: FileData;
  protected readonly fds: Descriptors;
  protected readonly quotas: Quotas;
  protected readonly paths: Paths;
  protected readonly root: number;
  protected readonly now: () => number;
  protected readonly sb: number;

  constructor(parts: StoreParts) {
    this.heap = parts.heap;
    this.inodes = parts.inodes;
    this.dirs = parts.dirs;
    this.pages = parts.pages;
    this.data = parts.data;
    this.fds = parts.descriptors;
    this.quotas = parts.quotas;
    this.root = parts.root;
    this.now = parts.now;
    this.sb = parts.sb;
    this.paths = new Paths(parts.inodes, parts.dirs, parts.root, (ino) => this.symlinkText(ino));
  }

  // ── names ──

  /** {@inheritDoc FileSystem.stat} */
  stat(path: string): FsStat {
    return this.statOf(this.existing("stat", path, "follow").ino);
  }

  /** {@inheritDoc FileSystem.lstat} */
  lstat(path: string): FsStat {
    return this.statOf(this.existing("lstat", path, "nofollow").ino);
  }

  /** {@inheritDoc FileSystem.truncate} */
  truncate(path: string, length: number): void {
    const op = "truncate";
    const { ino } = this.existing(op, path, "follow");
    if (this.inodes.kind(ino) === Kind.DIR) fsFail(FsErrno.EISDIR, op, path, "a directory");
    this.needAccess(ino, W_OK, op, path);
    this.checkLength(length, op);
    this.data.truncate(ino, length, this.now());
  }

  /** {@inheritDoc FileSystem.readdir} */
  readdir(path: string, cursor: number, max: number): FsDirPage {
    const op = "readdir";
    const { ino } = this.existing(op, path, "follow");
    if (this.inodes.kind(ino) !== Kind.DIR) fsFail(FsErrno.ENOTDIR, op, path, "not a directory");
    this.needAccess(ino, R_OK, op, path);
    if (!(Number.isInteger(cursor) && cursor >= 0 && cursor < 2 ** 32)) {
      fsFail(FsErrno.EINVAL, op, path, `cursor ${cursor} is not one readdir gave`);
    }
    if (!(Number.isInteger(max) && max >= 1)) fsFail(FsErrno.EINVAL, op, path, `max ${max} < 1`);
    const t = this.inodes.get(ino, I.ROOT);
    if (t === 0) return { entries: [], cursor: 0 }; // removed while open
    const { hits, next } = this.dirs.page(t, cursor, max);
    return {
      entries: hits.map((h) => ({
        name: nameText(h.name),
        kind: kindName(this.inodes.kind(h.ino)),
        ino: h.ino,
      })),
      cursor: next,
    };
  }

  /** {@inheritDoc FileSystem.mkdir} */
  mkdir(path: string, mode: number): void {
    const op = "mkdir";
    const r = this.paths.resolve(op, path, "create");
    if (r.ino !== 0) fsFail(FsErrno.EEXIST, op, path, "it exists");
    this.needAccess(r.parent, WX_OK, op, path);
    this.createIn(r, Kind.DIR, mode, 0, op, path);
  }

  /** {@inheritDoc FileSystem.rmdir} */
  rmdir(path: string): void {
    const op = "rmdir";
    const r = this.paths.resolve(op, path, "entry");
    if (r.last === "/") fsFail(FsErrno.EBUSY, op, path, "the root cannot be removed");
    if (r.last === ".") fsFail(FsErrno.EINVAL, op, path, "cannot remove .");
    if (r.last === "..") fsFail(FsErrno.ENOTEMPTY, op, path, "cannot remove ..");
    if (r.ino === 0) fsFail(FsErrno.ENOENT, op, path, "no such directory");
    if (this.inodes.kind(r.ino) !== Kind.DIR) fsFail(FsErrno.ENOTDIR, op, path, "not a directory");
    if (this.dirs.count(this.inodes.get(r.ino, I.ROOT)) > 0) {
      fsFail(FsErrno.ENOTEMPTY, op, path, "the directory is not empty");
    }
    this.needAccess(r.parent, WX_OK, op, path);
    this.dirs.remove(this.inodes.get(r.parent, I.ROOT), r.name!);
    this.addLinks(r.parent, -1);
    this.inodes.touch(r.parent, this.now());
    this.unlinkInode(r.ino);
  }

  /** {@inheritDoc FileSystem.unlink} */
  unlink(path: string): void {
    const op = "unlink";
    const r = this.paths.resolve(op, path, "entry");
    if (r.name === null) fsFail(FsErrno.EISDIR, op, path, "a directory");
    if (r.ino === 0) fsFail(FsErrno.ENOENT, op, path, "no such file");
    if (this.inodes.kind(r.ino) === Kind.DIR) fsFail(FsErrno.EISDIR, op, path, "a directory");
    this.needAccess(r.parent, WX_OK, op, path);
    this.dirs.remove(this.inodes.get(r.parent, I.ROOT), r.name);
    this.inodes.touch(r.parent, this.now());
    this.unlinkInode(r.ino);
  }

  /** {@inheritDoc FileSystem.rename} */
  rename(from: string, to: string): void {
    const op = "rename";
    const a = this.paths.resolve(op, from, "create"); // both walks first, then the checks
    const b = this.paths.resolve(op, to, "create");
    // in Linux's order: the names' kinds, the source, slashes, the subtrees, then the two names
    if (a.name === null) fsFail(FsErrno.EBUSY, op, from, "/, . and .. cannot be renamed");
    if (b.name === null) fsFail(FsErrno.EBUSY, op, to, "/, . and .. cannot be replaced");
    if (a.ino === 0) fsFail(FsErrno.ENOENT, op, from, "no such file or directory");
    const inodes = this.inodes;
    const srcDir = inodes.kind(a.ino) === Kind.DIR;
    if (!srcDir && (a.slash || b.slash)) {
      fsFail(
        FsErrno.ENOTDIR,
        op,
        a.slash ? from : to,
        "what is no directory is named without a final /",
      );
    }
    if (srcDir && this.within(b.parent, a.ino)) {
      fsFail(FsErrno.EINVAL, op, to, `inside ${from} itself`);
    }
    if (b.ino !== 0 && inodes.kind(b.ino) === Kind.DIR && this.within(a.parent, b.ino)) {
      fsFail(FsErrno.ENOTEMPTY, op, to, `it holds ${from}`);
    }
    if (b.ino === a.ino) return; // the same file: POSIX does nothing
    this.needAccess(a.parent, WX_OK, op, from);
    this.needAccess(b.parent, WX_OK, op, to);
    if (b.ino !== 0) {
      const dstDir = inodes.kind(b.ino) === Kind.DIR;
      if (srcDir && !dstDir) fsFail(FsErrno.ENOTDIR, op, to, "a directory cannot replace a file");
      if (!srcDir && dstDir) fsFail(FsErrno.EISDIR, op, to, "a file cannot replace a directory");
      if (dstDir && this.dirs.count(inodes.get(b.ino, I.ROOT)) > 0) {
        fsFail(FsErrno.ENOTEMPTY, op, to, "the directory it would replace is not empty");
      }
    }
    const aTable = inodes.get(a.parent, I.ROOT);
    const bTable = inodes.get(b.parent, I.ROOT);
    if (b.ino !== 0) this.dirs.replace(bTable, b.name, a.ino);
    else {
      try {
        this.dirs.insert(bTable, b.name, a.ino);
      } catch (e) {
        throw noSpace(e, `rename ${from}`);
      }
    }
    this.dirs.remove(aTable, a.name);
    const now = this.now();
    if (srcDir && a.parent !== b.parent) {
      this.addLinks(a.parent, -1);
      this.addLinks(b.parent, 1);
      inodes.set(a.ino, I.AUX, b.parent);
    }
    inodes.touch(a.parent, now);
    inodes.touch(b.parent, now);
    inodes.setF(a.ino, I.CTIME, now);
    if (b.ino !== 0) {
      if (inodes.kind(b.ino) === Kind.DIR) this.addLinks(b.parent, -1);
      this.unlinkInode(b.ino);
    }
  }

  /** {@inheritDoc FileSystem.link} */
  link(from: string, to: string): void {
    const op = "link";
    const a = this.existing(op, from, "nofollow");
    const b = this.paths.resolve(op, to, "create");
    if (b.ino !== 0) fsFail(FsErrno.EEXIST, op, to, "it exists");
    if (b.slash) fsFail(FsErrno.ENOENT, op, to, "a new link's path cannot end in /");
    this.needAccess(b.parent, WX_OK, op, to);
    if (this.inodes.kind(a.ino) === Kind.DIR) fsFail(FsErrno.EPERM, op, from, "a directory"); // as Linux: last
    try {
      this.dirs.insert(this.inodes.get(b.parent, I.ROOT), b.name!, a.ino);
    } catch (e) {
      throw noSpace(e, `link ${to}`);
    }
    this.addLinks(a.ino, 1);
    const now = this.now();
    this.inodes.setF(a.ino, I.CTIME, now);
    this.inodes.touch(b.parent, now);
  }

  /** {@inheritDoc FileSystem.symlink} */
  symlink(target: string, path: string): void {
    const op = "symlink";
    if (typeof target !== "string" || target.includes("\0")) {
      fsFail(FsErrno.EINVAL, op, path, "a target holds no NUL");
    }
    if (target.length === 0) fsFail(FsErrno.ENOENT, op, path, "the target is empty");
    const bytes = nameBytes(target);
    if (bytes.length > PATH_BYTES_MAX) {
      fsFail(FsErrno.ENAMETOOLONG, op, path, `a target is at most ${PATH_BYTES_MAX} bytes`);
    }
    const r = this.paths.resolve(op, path, "create");
    if (r.ino !== 0) fsFail(FsErrno.EEXIST, op, path, "it exists");
    if (r.slash) fsFail(FsErrno.ENOENT, op, path, "a symlink's path cannot end in /");
    this.needAccess(r.parent, WX_OK, op, path);
    let block: number;
    try {
      block = this.heap.alloc(bytes.length);
    } catch (e) {
      throw noSpace(e, op);
    }
    let ino: number;
    try {
      ino = this.createIn(r, Kind.SYMLINK, 0o777, 0, op, path);
    } catch (e) {
      this.heap.free(block);
      throw e;
    }
    this.heap.mem.write(block, bytes);
    this.inodes.set(ino, I.ROOT, block);
    this.inodes.setF(ino, I.SIZE, bytes.length);
  }

  /** {@inheritDoc FileSystem.readlink} */
  readlink(path: string): string {
    const { ino } = this.existing("readlink", path, "nofollow");
    if (this.inodes.kind(ino) !== Kind.SYMLINK) {
      fsFail(FsErrno.EINVAL, "readlink", path, "not a symlink");
    }
    return this.symlinkText(ino);
  }

  /** {@inheritDoc FileSystem.chmod} */
  chmod(path: string, mode: number): void {
    const { ino } = this.existing("chmod", path, "follow");
    this.inodes.set(ino, I.MODE, mode & 0o7777);
    this.inodes.setF(ino, I.CTIME, this.now());
  }

  /** {@inheritDoc FileSystem.utimes} */
  utimes(path: string, atimeMs: number, mtimeMs: number): void {
    const { ino } = this.existing("utimes", path, "follow");
    if (!Number.isFinite(atimeMs) || !Number.isFinite(mtimeMs)) {
      fsFail(FsErrno.EINVAL, "utimes", path, "times are finite numbers of ms");
    }
    this.inodes.setF(ino, I.ATIME, atimeMs);
    this.inodes.setF(ino, I.MTIME, mtimeMs);
    this.inodes.setF(ino, I.CTIME, this.now());
  }

  // ── the whole ──

  /** {@inheritDoc FileSystem.space} */
  space(): FsSpace {
    return {
      totalBlocks: this.pages.total,
      freeBlocks: this.pages.free(),
      inodes: this.heap.mem.getU32(this.sb + SB.INODES),
      metadataBytes: this.heap.usedBytes(),
      metadataCapacity: this.heap.capacityBytes(),
    };
  }

  /** {@inheritDoc FileSystem.setQuota} */
  setQuota(client: number, blocks: number | undefined): void {
    try {
      this.quotas.setLimit(client, blocks);
    } catch (e) {
      throw noSpace(e, "setQuota");
    }
  }

  /** {@inheritDoc FileSystem.charged} */
  charged(client: number): number {
    return this.quotas.charged(client);
  }

  /** The target of symlink `ino`. */
  symlinkText(ino: number): string {
    const at = this.inodes.get(ino, I.ROOT);
    const n = this.inodes.getF(ino, I.SIZE);
    return nameText(this.heap.mem.bytes.subarray(at, at + n));
  }

  /** Checks the heap and the page allocator (tests): E_INTERNAL at the first inconsistency. */
  check(): void {
    this.heap.check();
    this.pages.check();
  }

  // ── internals ──

  protected existing(op: string, path: string, follow: Follow): Resolved {
    const r = this.paths.resolve(op, path, follow);
    if (r.ino === 0) fsFail(FsErrno.ENOENT, op, path, "no such file or directory");
    return r;
  }

  protected needAccess(ino: number, bits: number, op: string, path: string): void {
    if ((this.inodes.get(ino, I.MODE) & bits) !== bits) {
      fsFail(FsErrno.EACCES, op, path, `permission 0o${bits.toString(8)} is not granted`);
    }
  }

  /** A new inode named `r.name` in `r.parent`; nothing changed when it throws. */
  protected createIn(
    r: Resolved,
    kind: Kind,
    mode: number,
    client: number,
    op: string,
    path: string,
  ): number {
    if (r.name === null) fsFail(FsErrno.EEXIST, op, path, "it exists");
    const inodes = this.inodes;
    const now = this.now();
    let ino = 0;
    let table = 0;
    try {
      ino = inodes.create(kind, mode, client, now);
      if (kind === Kind.DIR) {
        table = this.dirs.create();
        inodes.set(ino, I.ROOT, table);
        inodes.set(ino, I.AUX, r.parent);
      }
      this.dirs.insert(inodes.get(r.parent, I.ROOT), r.name, ino);
    } catch (e) {
      if (table !== 0) this.dirs.destroy(table);
      if (ino !== 0) inodes.free(ino);
      throw noSpace(e, `${op} ${path}`);
    }
    if (kind === Kind.DIR) this.addLinks(r.parent, 1);
    inodes.touch(r.parent, now);
    const mem = this.heap.mem;
    mem.setU32(this.sb + SB.INODES, mem.getU32(this.sb + SB.INODES) + 1);
    return ino;
  }

  /** True when directory `dir` is `ancestor` or lies under it. */
  protected within(dir: number, ancestor: number): boolean {
    for (let d = dir;; d = this.inodes.get(d, I.AUX)) {
      if (d === ancestor) return true;
      if (d === this.root) return false;
    }
  }

  protected addLinks(ino: number, delta: number): void {
    this.inodes.set(ino, I.NLINK, this.inodes.get(ino, I.NLINK) + delta);
  }

  /** One name of `ino` is gone: a directory's last, or one of a file's. */
  protected unlinkInode(ino: number): void {
    const inodes = this.inodes;
    if (inodes.kind(ino) === Kind.DIR) {
      inodes.set(ino, I.NLINK, 0);
      this.dirs.destroy(inodes.get(ino, I.ROOT));
      inodes.set(ino, I.ROOT, 0);
    } else this.addLinks(ino, -1);
    inodes.setF(ino, I.CTIME, this.now());
    if (inodes.get(ino, I.NLINK) === 0 && inodes.get(ino, I.OPEN) === 0) this.destroy(ino);
  }

  /** Frees an inode with no names and no descriptors, and what it holds. */
  protected destroy(ino: number): void {
    const kind = this.inodes.kind(ino);
    if (kind === Kind.FILE) this.data.release(ino);
    else if (kind === Kind.SYMLINK) this.heap.free(this.inodes.get(ino, I.ROOT));
    this.inodes.free(ino);
    const mem = this.heap.mem;
    mem.setU32(this.sb + SB.INODES, mem.getU32(this.sb + SB.INODES) - 1);
  }

  protected statOf(ino: number): FsStat {
    return this.inodes.stat(ino, this.sizeOf(ino));
  }

  protected sizeOf(ino: number): number {
    if (this.inodes.kind(ino) !== Kind.DIR) return this.inodes.getF(ino, I.SIZE);
    const t = this.inodes.get(ino, I.ROOT);
    return t === 0 ? 0 : this.dirs.count(t);
  }

  protected checkLength(length: number, op: string): void {
    if (!(Number.isSafeInteger(length) && length >= 0)) {
      throw new FsError(FsErrno.EINVAL, `${op}: length ${length} is not a whole number ≥ 0`);
    }
    if (length > FILE_BYTES_MAX) {
      throw new FsError(
        FsErrno.EFBIG,
        `${op}: ${length} bytes; a file has at most ${FILE_BYTES_MAX}`,
      );
    }
  }
}
