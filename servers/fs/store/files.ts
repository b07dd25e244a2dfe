/**
 * {@link NvmFileSystem}: the {@link FileSystem} of the storage, the
 * descriptor operations (open, close, read, write, seek, truncate through a
 * descriptor) over the name operations of names.ts. Reads and writes go to
 * data.ts; descriptors live in descriptors.ts.
 *
 * @module
 */

import {
  ACCESS_MODE_MASK,
  type FileSystem,
  FsErrno,
  FsError,
  type FsStat,
  OpenFlag,
  Whence,
} from "../vfs.ts";
import { D } from "./descriptors.ts";
import { I, Kind } from "./inode.ts";
import { fsFail } from "./path.ts";
import { Names, R_OK, W_OK, WX_OK } from "./names.ts";

const KNOWN_FLAGS = ACCESS_MODE_MASK | OpenFlag.CREAT | OpenFlag.EXCL | OpenFlag.TRUNC |
  OpenFlag.APPEND | OpenFlag.DIRECTORY | OpenFlag.NOFOLLOW;

/** The file system over one metadata heap and its data segments. */
export class NvmFileSystem extends Names implements FileSystem {
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
    const nofollow = (flags & OpenFlag.NOFOLLOW) !== 0;
    // EMFILE before the path's errors, as Linux takes a descriptor before the lookup.
    this.fds.checkRoom(owner);
    const r = this.paths.resolve(
      op,
      path,
      creat ? (excl || nofollow ? "create" : "creat") : nofollow ? "nofollow" : "follow",
    );
    if (creat && r.slash) fsFail(FsErrno.EISDIR, op, path, "O_CREAT on a path ending in /");
    const inodes = this.inodes;
    let ino = r.ino;
    if (ino === 0) {
      if (!creat) fsFail(FsErrno.ENOENT, op, path, "no such file or directory");
      this.needAccess(r.parent, WX_OK, op, path);
    } else {
      const kind = inodes.kind(ino);
      if (excl) fsFail(FsErrno.EEXIST, op, path, "it exists (O_EXCL)");
      if (kind === Kind.SYMLINK) fsFail(FsErrno.ELOOP, op, path, "it is a symlink (O_NOFOLLOW)");
      if (kind !== Kind.DIR && (flags & OpenFlag.DIRECTORY) !== 0) {
        fsFail(FsErrno.ENOTDIR, op, path, "not a directory (O_DIRECTORY)");
      }
      if (
        kind === Kind.DIR && (access !== OpenFlag.RDONLY || creat || (flags & OpenFlag.TRUNC) !== 0)
      ) {
        fsFail(FsErrno.EISDIR, op, path, "a directory opens read-only, without O_CREAT or O_TRUNC");
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
    this.fds.drop(owner);
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
    else if (whence === Whence.END) {
      const ino = mem.getU32(at + D.INO);
      if (this.inodes.kind(ino) === Kind.DIR) {
        throw new FsError(FsErrno.EINVAL, `seek: descriptor ${fd} is a directory; it has no end`);
      }
      base = this.sizeOf(ino);
    } else throw new FsError(FsErrno.EINVAL, `seek: whence ${whence} is not SET, CUR or END`);
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
}
