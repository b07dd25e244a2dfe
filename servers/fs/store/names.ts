/**
 * {@link NvmFileSystem}: the {@link FileSystem} over the parts mod.ts
 * builds. Every call checks everything first and then changes the heap
 * (a call that throws changed nothing; a write that runs out of space
 * part-way is a short write). POSIX as Linux does it; see servers/fs/vfs.ts
 * for the choices. Times are not touched by reads (noatime).
 *
 * @module
 */

import type { PersistentHeap } from "../../pmem/heap.ts";
import {
  ACCESS_MODE_MASK,
  FILE_BYTES_MAX,
  type FileSystem,
  type FsDirPage,
  FsErrno,
  FsError,
  type FsSpace,
  type FsStat,
  OpenFlag,
  PATH_BYTES_MAX,
  Whence,
} from "../vfs.ts";
import type { FileData } from "./data.ts";
import { D, type Descriptors } from "./descriptors.ts";
import type { Dirs } from "./dir.ts";
import { I, type Inodes, Kind, kindName } from "./inode.ts";
import type { DataPages, PageMaps } from "./pages.ts";
import { fsFail, nameBytes, nameText, Paths, type Resolved } from "./path.ts";
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

const R_OK = 0o400;
const W_OK = 0o200;
const WX_OK = 0o300;
const KNOWN_FLAGS = ACCESS_MODE_MASK | OpenFlag.CREAT | OpenFlag.EXCL | OpenFlag.TRUNC |
  OpenFlag.APPEND | OpenFlag.DIRECTORY | OpenFlag.NOFOLLOW;

/** The file system over one metadata heap and its data segments (see the module map). */
export class NvmFileSystem implements FileSystem {
  private readonly heap: PersistentHeap;
  private readonly inodes: Inodes;
  private readonly dirs: Dirs;
  private readonly pages: DataPages;
  private readonly data: FileData;
  private readonly fds: Descriptors;
  private readonly quotas: Quotas;
  private readonly paths: Paths;
  private readonly root: number;
  private readonly now: () => number;
  private readonly sb: number;

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

  // ── descriptors ──

  /** {@inheritDoc FileSystem.open} */
  open(owner: number, client: number, path: string, flags: number, mode = 0o644): number {
    const op = "open";
    if ((flags & ACCESS_MODE_MASK) === 3 || (flags & ~KNOWN_FLAGS) !== 0) {
      fsFail(FsErrno.EINVAL, op, path, `flags 0o${flags.toString(8)} are not valid open flags`);
    }
    const access = flags & ACCESS_MODE_MASK;
    const creat = (flags & OpenFlag.CREAT) !== 0;
    const excl = creat && (flags & OpenFlag.EXCL) !== 0;
    const follow = !excl && (flags & OpenFlag.NOFOLLOW) === 0;
    const r = this.paths.resolve(op, path, follow);
    const inodes = this.inodes;
    let ino = r.ino;
    if (ino === 0) {
      if (!creat) fsFail(FsErrno.ENOENT, op, path, "no such file or directory");
      if (r.slash) fsFail(FsErrno.EISDIR, op, path, "a new file's path cannot end in /");
      this.needAccess(r.parent, WX_OK, op, path);
    } else {
      const kind = inodes.kind(ino);
      if (excl) fsFail(FsErrno.EEXIST, op, path, "it exists (O_EXCL)");
      if (kind === Kind.SYMLINK) fsFail(FsErrno.ELOOP, op, path, "it is a symlink (O_NOFOLLOW)");
      if (kind !== Kind.DIR && (flags & OpenFlag.DIRECTORY) !== 0) {
        fsFail(FsErrno.ENOTDIR, op, path, "not a directory (O_DIRECTORY)");
      }
      if (kind === Kind.DIR && (access !== OpenFlag.RDONLY || creat)) {
        fsFail(FsErrno.EISDIR, op, path, "a directory opens read-only, without O_CREAT");
      }
      if (access !== OpenFlag.WRONLY) this.needAccess(ino, R_OK, op, path);
      if (access !== OpenFlag.RDONLY || (flags & OpenFlag.TRUNC) !== 0) {
        this.needAccess(ino, W_OK, op, path);
      }
    }
    const fd = this.fds.reserve(owner);
    if (ino === 0) {
      try {
        ino = this.createIn(r, Kind.FILE, mode, client, op, path);
      } catch (e) {
        this.fds.unreserve(owner);
        throw e;
      }
    } else if ((flags & OpenFlag.TRUNC) !== 0 && inodes.kind(ino) === Kind.FILE) {
      this.data.truncate(ino, 0, this.now());
    }
    this.fds.bind(owner, fd, ino, flags);
    inodes.set(ino, I.OPEN, inodes.get(ino, I.OPEN) + 1);
    return fd;
  }

  /** {@inheritDoc FileSystem.close} */
  close(owner: number, fd: number): void {
    const ino = this.fds.close(owner, fd);
    const open = this.inodes.get(ino, I.OPEN) - 1;
    this.inodes.set(ino, I.OPEN, open);
    if (open === 0 && this.inodes.get(ino, I.NLINK) === 0) this.destroy(ino);
  }

  /** {@inheritDoc FileSystem.closeAll} */
  closeAll(owner: number): number {
    const fds = this.fds.openOf(owner);
    for (const fd of fds) this.close(owner, fd);
    return fds.length;
  }

  /** {@inheritDoc FileSystem.read} */
  read(owner: number, fd: number, length: number): Uint8Array {
    const at = this.readable(owner, fd, "read");
    const mem = this.heap.mem;
    const out = this.readAt(at, mem.getF64(at + D.OFFSET), length, "read");
    mem.setF64(at + D.OFFSET, mem.getF64(at + D.OFFSET) + out.length);
    return out;
  }

  /** {@inheritDoc FileSystem.write} */
  write(owner: number, fd: number, data: Uint8Array): number {
    const at = this.writable(owner, fd, "write");
    const mem = this.heap.mem;
    const ino = mem.getU32(at + D.INO);
    const append = (mem.getU32(at + D.FLAGS) & OpenFlag.APPEND) !== 0;
    const pos = append ? this.inodes.getF(ino, I.SIZE) : mem.getF64(at + D.OFFSET);
    const n = this.data.write(ino, pos, data, this.now());
    mem.setF64(at + D.OFFSET, pos + n);
    return n;
  }

  /** {@inheritDoc FileSystem.pread} */
  pread(owner: number, fd: number, offset: number, length: number): Uint8Array {
    const at = this.readable(owner, fd, "pread");
    this.checkOffset(offset, "pread");
    return this.readAt(at, offset, length, "pread");
  }

  /** {@inheritDoc FileSystem.pwrite} */
  pwrite(owner: number, fd: number, offset: number, data: Uint8Array): number {
    const at = this.writable(owner, fd, "pwrite");
    this.checkOffset(offset, "pwrite");
    const mem = this.heap.mem;
    const ino = mem.getU32(at + D.INO);
    const append = (mem.getU32(at + D.FLAGS) & OpenFlag.APPEND) !== 0;
    return this.data.write(ino, append ? this.inodes.getF(ino, I.SIZE) : offset, data, this.now());
  }

  /** {@inheritDoc FileSystem.seek} */
  seek(owner: number, fd: number, offset: number, whence: Whence): number {
    const at = this.fds.record(owner, fd, "seek");
    const mem = this.heap.mem;
    if (!Number.isSafeInteger(offset)) {
      throw new FsError(FsErrno.EINVAL, `seek: offset ${offset} is not an integer`);
    }
    let base: number;
    if (whence === Whence.SET) base = 0;
    else if (whence === Whence.CUR) base = mem.getF64(at + D.OFFSET);
    else if (whence === Whence.END) base = this.sizeOf(mem.getU32(at + D.INO));
    else throw new FsError(FsErrno.EINVAL, `seek: whence ${whence} is not SET, CUR or END`);
    const to = base + offset;
    if (to < 0) throw new FsError(FsErrno.EINVAL, `seek: the offset would be ${to}, below 0`);
    mem.setF64(at + D.OFFSET, to);
    return to;
  }

  /** {@inheritDoc FileSystem.ftruncate} */
  ftruncate(owner: number, fd: number, length: number): void {
    const at = this.fds.record(owner, fd, "ftruncate");
    const mem = this.heap.mem;
    const ino = mem.getU32(at + D.INO);
    if (this.inodes.kind(ino) !== Kind.FILE || (mem.getU32(at + D.FLAGS) & 3) === OpenFlag.RDONLY) {
      throw new FsError(
        FsErrno.EINVAL,
        `ftruncate: descriptor ${fd} is not a file open for writing`,
      );
    }
    this.checkLength(length, "ftruncate");
    this.data.truncate(ino, length, this.now());
  }

  /** {@inheritDoc FileSystem.fstat} */
  fstat(owner: number, fd: number): FsStat {
    const at = this.fds.record(owner, fd, "fstat");
    return this.statOf(this.heap.mem.getU32(at + D.INO));
  }

  /** {@inheritDoc FileSystem.fsync} */
  fsync(owner: number, fd: number): void {
    this.fds.record(owner, fd, "fsync");
  }

  // ── names ──

  /** {@inheritDoc FileSystem.stat} */
  stat(path: string): FsStat {
    return this.statOf(this.existing("stat", path, true).ino);
  }

  /** {@inheritDoc FileSystem.lstat} */
  lstat(path: string): FsStat {
    return this.statOf(this.existing("lstat", path, false).ino);
  }

  /** {@inheritDoc FileSystem.truncate} */
  truncate(path: string, length: number): void {
    const op = "truncate";
    const { ino } = this.existing(op, path, true);
    if (this.inodes.kind(ino) === Kind.DIR) fsFail(FsErrno.EISDIR, op, path, "a directory");
    this.needAccess(ino, W_OK, op, path);
    this.checkLength(length, op);
    this.data.truncate(ino, length, this.now());
  }

  /** {@inheritDoc FileSystem.readdir} */
  readdir(path: string, cursor: number, max: number): FsDirPage {
    const op = "readdir";
    const { ino } = this.existing(op, path, true);
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
    const r = this.paths.resolve(op, path, false);
    if (r.ino !== 0) fsFail(FsErrno.EEXIST, op, path, "it exists");
    this.needAccess(r.parent, WX_OK, op, path);
    this.createIn(r, Kind.DIR, mode, 0, op, path);
  }

  /** {@inheritDoc FileSystem.rmdir} */
  rmdir(path: string): void {
    const op = "rmdir";
    const r = this.paths.resolve(op, path, false);
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
    const r = this.paths.resolve(op, path, false);
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
    const a = this.paths.resolve(op, from, false);
    const b = this.paths.resolve(op, to, false);
    if (a.name === null) fsFail(FsErrno.EBUSY, op, from, "/, . and .. cannot be renamed");
    if (a.ino === 0) fsFail(FsErrno.ENOENT, op, from, "no such file or directory");
    if (b.name === null) fsFail(FsErrno.EBUSY, op, to, "/, . and .. cannot be replaced");
    const inodes = this.inodes;
    const srcDir = inodes.kind(a.ino) === Kind.DIR;
    if (!srcDir && b.slash) fsFail(FsErrno.ENOTDIR, op, to, "a file's new name cannot end in /");
    if (b.ino !== 0 && b.ino !== a.ino) {
      const dstDir = inodes.kind(b.ino) === Kind.DIR;
      if (srcDir && !dstDir) fsFail(FsErrno.ENOTDIR, op, to, "a directory cannot replace a file");
      if (!srcDir && dstDir) fsFail(FsErrno.EISDIR, op, to, "a file cannot replace a directory");
      if (dstDir && this.dirs.count(inodes.get(b.ino, I.ROOT)) > 0) {
        fsFail(FsErrno.ENOTEMPTY, op, to, "the directory it would replace is not empty");
      }
    }
    if (srcDir) {
      for (let d = b.parent;; d = inodes.get(d, I.AUX)) {
        if (d === a.ino) fsFail(FsErrno.EINVAL, op, to, `inside ${from} itself`);
        if (d === this.root) break;
      }
    }
    this.needAccess(a.parent, WX_OK, op, from);
    this.needAccess(b.parent, WX_OK, op, to);
    if (b.ino === a.ino) return; // the same file: POSIX does nothing
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
    const a = this.existing(op, from, false);
    if (this.inodes.kind(a.ino) === Kind.DIR) fsFail(FsErrno.EPERM, op, from, "a directory");
    const b = this.paths.resolve(op, to, false);
    if (b.ino !== 0) fsFail(FsErrno.EEXIST, op, to, "it exists");
    if (b.slash) fsFail(FsErrno.ENOENT, op, to, "a new link's path cannot end in /");
    this.needAccess(b.parent, WX_OK, op, to);
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
    const r = this.paths.resolve(op, path, false);
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
    const { ino } = this.existing("readlink", path, false);
    if (this.inodes.kind(ino) !== Kind.SYMLINK) {
      fsFail(FsErrno.EINVAL, "readlink", path, "not a symlink");
    }
    return this.symlinkText(ino);
  }

  /** {@inheritDoc FileSystem.chmod} */
  chmod(path: string, mode: number): void {
    const { ino } = this.existing("chmod", path, true);
    this.inodes.set(ino, I.MODE, mode & 0o7777);
    this.inodes.setF(ino, I.CTIME, this.now());
  }

  /** {@inheritDoc FileSystem.utimes} */
  utimes(path: string, atimeMs: number, mtimeMs: number): void {
    const { ino } = this.existing("utimes", path, true);
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

  private existing(op: string, path: string, follow: boolean): Resolved {
    const r = this.paths.resolve(op, path, follow);
    if (r.ino === 0) fsFail(FsErrno.ENOENT, op, path, "no such file or directory");
    return r;
  }

  private needAccess(ino: number, bits: number, op: string, path: string): void {
    if ((this.inodes.get(ino, I.MODE) & bits) !== bits) {
      fsFail(FsErrno.EACCES, op, path, `permission 0o${bits.toString(8)} is not granted`);
    }
  }

  /** A new inode named `r.name` in `r.parent`; nothing changed when it throws. */
  private createIn(
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

  private addLinks(ino: number, delta: number): void {
    this.inodes.set(ino, I.NLINK, this.inodes.get(ino, I.NLINK) + delta);
  }

  /** One name of `ino` is gone: a directory's last, or one of a file's. */
  private unlinkInode(ino: number): void {
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
  private destroy(ino: number): void {
    const kind = this.inodes.kind(ino);
    if (kind === Kind.FILE) this.data.release(ino);
    else if (kind === Kind.SYMLINK) this.heap.free(this.inodes.get(ino, I.ROOT));
    this.inodes.free(ino);
    const mem = this.heap.mem;
    mem.setU32(this.sb + SB.INODES, mem.getU32(this.sb + SB.INODES) - 1);
  }

  private statOf(ino: number): FsStat {
    return this.inodes.stat(ino, this.sizeOf(ino));
  }

  private sizeOf(ino: number): number {
    if (this.inodes.kind(ino) !== Kind.DIR) return this.inodes.getF(ino, I.SIZE);
    const t = this.inodes.get(ino, I.ROOT);
    return t === 0 ? 0 : this.dirs.count(t);
  }

  private readable(owner: number, fd: number, op: string): number {
    const at = this.fds.record(owner, fd, op);
    const mem = this.heap.mem;
    if ((mem.getU32(at + D.FLAGS) & ACCESS_MODE_MASK) === OpenFlag.WRONLY) {
      throw new FsError(FsErrno.EBADF, `${op}: descriptor ${fd} is open write-only`);
    }
    if (this.inodes.kind(mem.getU32(at + D.INO)) === Kind.DIR) {
      throw new FsError(FsErrno.EISDIR, `${op}: descriptor ${fd} is a directory`);
    }
    return at;
  }

  private writable(owner: number, fd: number, op: string): number {
    const at = this.fds.record(owner, fd, op);
    if ((this.heap.mem.getU32(at + D.FLAGS) & ACCESS_MODE_MASK) === OpenFlag.RDONLY) {
      throw new FsError(FsErrno.EBADF, `${op}: descriptor ${fd} is open read-only`);
    }
    return at;
  }

  private readAt(at: number, offset: number, length: number, op: string): Uint8Array {
    if (!(Number.isSafeInteger(length) && length >= 0)) {
      throw new FsError(FsErrno.EINVAL, `${op}: length ${length} is not a whole number ≥ 0`);
    }
    return this.data.read(this.heap.mem.getU32(at + D.INO), offset, length);
  }

  private checkOffset(offset: number, op: string): void {
    if (!(Number.isSafeInteger(offset) && offset >= 0)) {
      throw new FsError(FsErrno.EINVAL, `${op}: offset ${offset} is not a whole number ≥ 0`);
    }
  }

  private checkLength(length: number, op: string): void {
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
