/**
 * The contract of the file system: what the FS server's storage
 * (servers/fs/store/) does, what the FS server (servers/fs/main.ts) serves
 * over IPC, and what the client library (servers/runtime/fs.ts) offers
 * programs. One set of names, flags, errors and records for all three, so
 * the differential test against the host (tools/fs_diff.ts) drives any of
 * them the same way.
 *
 * Map of this file:
 * - {@link FsErrno}, {@link FsError}: POSIX error names, the one error a
 *   file-system call throws;
 * - {@link OpenFlag}, {@link Whence}, limits: the numbers a call takes;
 * - {@link FsStat}, {@link FsDirEntry}, {@link FsDirPage}, {@link FsSpace}:
 *   the records it answers;
 * - {@link FileSystem}: the synchronous operations over one tree, with the
 *   descriptors of every owner (a client connection).
 *
 * ## Semantics (POSIX, as Linux does it, with these choices)
 *
 * - Paths are absolute ("/a/b"); "." and ".." resolve as POSIX says, and
 *   ".." of the root is the root. Repeated and trailing slashes are
 *   allowed; a trailing slash on a name that is not a directory (after
 *   symlinks) is ENOTDIR. An empty path is ENOENT, a relative one EINVAL.
 * - A name is 1…{@link NAME_BYTES_MAX} bytes of UTF-8 without "/" or NUL; a
 *   path at most {@link PATH_BYTES_MAX} bytes. NUL anywhere is EINVAL, a
 *   longer name or path ENAMETOOLONG.
 * - Symlinks are followed in every component but the last of lstat,
 *   readlink, unlink, rename, symlink's own path, both paths of link (a
 *   hard link to a symlink is a link to the symlink, as Linux's link(2)
 *   makes it) and open with O_NOFOLLOW; at most {@link SYMLINK_FOLLOW_MAX} in one
 *   resolution (ELOOP). A relative target resolves from the link's
 *   directory.
 * - Permissions without users: one owner, not root. Mode bits are kept,
 *   and the owner bits are checked: reading needs 0o400, writing 0o200, a
 *   directory's search 0o100, creating or removing in a directory 0o300
 *   (EACCES). umask is 0.
 * - Times are wall-clock Unix milliseconds from the storage's clock; the
 *   differential test excludes them (and directory sizes).
 * - Every call checks everything first and changes nothing when it
 *   throws, except a write that runs out of space part-way, which keeps
 *   what it wrote (a short write, returned as a count) when it wrote
 *   anything and throws ENOSPC when it wrote nothing.
 * - Durability is the whole-system checkpoint: {@link FileSystem.fsync}
 *   only checks its descriptor; the client library's `fsync` and `sync`
 *   return once the checkpoint covering the call has committed.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";

/** POSIX error names a file-system call throws (Linux's numbers). */
export enum FsErrno {
  EPERM = 1,
  ENOENT = 2,
  EBADF = 9,
  EACCES = 13,
  EBUSY = 16,
  EEXIST = 17,
  EXDEV = 18,
  ENOTDIR = 20,
  EISDIR = 21,
  EINVAL = 22,
  EMFILE = 24,
  EFBIG = 27,
  ENOSPC = 28,
  ENAMETOOLONG = 36,
  ENOTEMPTY = 39,
  ELOOP = 40,
}

/**
 * The error of a failed file-system call: a POSIX name beside the ABI's
 * code E_FS, so it crosses IPC like every other error (the reply status is
 * E_FS and the message starts with the POSIX name; {@link FsError.from}
 * reads it back).
 *
 * @example
 * ```ts
 * throw new FsError(FsErrno.ENOENT, "open /a/b: no such file or directory");
 * ```
 */
export class FsError extends TardigradeError {
  /** The POSIX name. */
  readonly errno: FsErrno;

  constructor(errno: FsErrno, message: string) {
    super(Err.E_FS, `${FsErrno[errno]}: ${message}`, { errno: FsErrno[errno] });
    this.name = "FsError";
    this.errno = errno;
  }

  /** The POSIX name as text, e.g. "ENOENT". */
  get errnoName(): string {
    return FsErrno[this.errno];
  }

  /**
   * The FsError an E_FS error carries (a message "E_FS: … ENOENT: …" as an
   * IPC reply brings it), or undefined for any other error.
   */
  static from(e: unknown): FsError | undefined {
    if (e instanceof FsError) return e;
    if (!(e instanceof TardigradeError) || e.code !== Err.E_FS) return undefined;
    const m = /\b(E[A-Z]+): (.*)$/s.exec(e.message.replace(/^E_FS: /, ""));
    const errno = m ? FsErrno[m[1] as keyof typeof FsErrno] : undefined;
    if (errno === undefined) return undefined;
    return new FsError(errno, m![2]);
  }
}

/** Open flags (Linux's values); the access mode is the low two bits. */
export enum OpenFlag {
  RDONLY = 0,
  WRONLY = 1,
  RDWR = 2,
  CREAT = 0o100,
  EXCL = 0o200,
  TRUNC = 0o1000,
  APPEND = 0o2000,
  DIRECTORY = 0o200000,
  NOFOLLOW = 0o400000,
}

/** The access-mode bits of open flags. */
export const ACCESS_MODE_MASK = 3;

/** Where a seek counts from. */
export enum Whence {
  SET = 0,
  CUR = 1,
  END = 2,
}

/** Longest name (one path component) in UTF-8 bytes. */
export const NAME_BYTES_MAX = 255;
/** Longest path in UTF-8 bytes (Linux's PATH_MAX of 4096 less its terminating NUL). */
export const PATH_BYTES_MAX = 4095;
/** Symlinks one path resolution may follow before ELOOP. */
export const SYMLINK_FOLLOW_MAX = 40;
/** Descriptors one owner may have open at once (EMFILE beyond). */
export const OPEN_FILES_MAX = 256;
/** Largest file in bytes (EFBIG for a write or truncate past it): 4 GiB. */
export const FILE_BYTES_MAX = 2 ** 32;
/** Bytes of a block (a page of NVM) in {@link FsStat.blocks} and {@link FsSpace}. */
export const FS_BLOCK_BYTES = 4096;

/** What a name is. */
export type FsKind = "file" | "dir" | "symlink";

/** What stat, lstat and fstat answer. */
export interface FsStat {
  /** Inode number: equal for hard links of one file. */
  ino: number;
  kind: FsKind;
  /** Bytes: a file's length, a symlink's target length; a directory's is its entry count. */
  size: number;
  /** Links: a file's names; a directory's 2 + its subdirectories. */
  nlink: number;
  /** Permission bits (0o7777). */
  mode: number;
  /** Blocks of {@link FS_BLOCK_BYTES} allocated to the data (holes have none). */
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** One directory entry. */
export interface FsDirEntry {
  name: string;
  kind: FsKind;
  ino: number;
}

/** A page of a directory listing. */
export interface FsDirPage {
  entries: FsDirEntry[];
  /** Cursor of the next page; 0 when the listing is complete. */
  cursor: number;
}

/** Space of the file system, in blocks of {@link FS_BLOCK_BYTES}. */
export interface FsSpace {
  totalBlocks: number;
  freeBlocks: number;
  /** Inodes in use (files, directories and symlinks, the root included). */
  inodes: number;
  /** Bytes of the metadata heap in use, and its capacity. */
  metadataBytes: number;
  metadataCapacity: number;
}

/**
 * One tree and the descriptors of every owner, synchronous (the FS server
 * runs each request to completion). `owner` is the client connection a
 * descriptor belongs to; {@link closeAll} closes an owner's descriptors
 * when its connection closes. Descriptors are small integers, the lowest
 * free first, per owner. An unlinked file stays readable through its open
 * descriptors and is freed at its last close.
 */
export interface FileSystem {
  // ── descriptors ──
  /**
   * Opens `path` with {@link OpenFlag} `flags`; creates a file with
   * permission bits `mode` under O_CREAT. New files are charged to
   * `client` (their data pages count against its quota, see
   * {@link setQuota}). Returns the descriptor.
   */
  open(owner: number, client: number, path: string, flags: number, mode?: number): number;
  /** Closes a descriptor (EBADF when it is not open). */
  close(owner: number, fd: number): void;
  /** Closes every descriptor of `owner`; returns how many. */
  closeAll(owner: number): number;
  /** Reads up to `length` bytes at the descriptor's offset and advances it; empty at the end. */
  read(owner: number, fd: number, length: number): Uint8Array;
  /** Writes at the offset (the end under O_APPEND) and advances it; returns the count written. */
  write(owner: number, fd: number, data: Uint8Array): number;
  /** Reads at `offset` without moving the descriptor's offset. */
  pread(owner: number, fd: number, offset: number, length: number): Uint8Array;
  /** Writes at `offset` (the end under O_APPEND, as Linux does) without moving the offset. */
  pwrite(owner: number, fd: number, offset: number, data: Uint8Array): number;
  /** Moves the offset; returns the new one (EINVAL for a negative result). */
  seek(owner: number, fd: number, offset: number, whence: Whence): number;
  /** Sets the length of the file open for writing on `fd` (zeros when it grows). */
  ftruncate(owner: number, fd: number, length: number): void;
  /** The stat of the open file. */
  fstat(owner: number, fd: number): FsStat;
  /** Checks the descriptor (EBADF); durability is the client library's part. */
  fsync(owner: number, fd: number): void;

  // ── names ──
  /** The stat of `path`, following a final symlink. */
  stat(path: string): FsStat;
  /** The stat of `path` itself. */
  lstat(path: string): FsStat;
  /** Sets the length of the file at `path`. */
  truncate(path: string, length: number): void;
  /**
   * Up to `max` entries of the directory at `path` from `cursor` (0
   * starts), without "." and ".."; an entry present for the whole listing
   * is returned exactly once, in no particular order.
   */
  readdir(path: string, cursor: number, max: number): FsDirPage;
  mkdir(path: string, mode: number): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  /** POSIX rename: atomic, replacing; EINVAL for a directory into its own subtree. */
  rename(from: string, to: string): void;
  /** A hard link `to` of the file at `from` (EPERM for a directory). */
  link(from: string, to: string): void;
  /** A symlink at `path` whose target is `target` (any text, not resolved now). */
  symlink(target: string, path: string): void;
  /** The target of the symlink at `path` (EINVAL when it is not one). */
  readlink(path: string): string;
  chmod(path: string, mode: number): void;
  /** Sets the access and modification times (Unix ms). */
  utimes(path: string, atimeMs: number, mtimeMs: number): void;

  // ── the whole ──
  /** Space and inode counts. */
  space(): FsSpace;
  /**
   * Limits the data blocks charged to `client` (undefined lifts the
   * limit): a write that would pass it gets ENOSPC, for that client alone.
   */
  setQuota(client: number, blocks: number | undefined): void;
  /** Data blocks charged to `client`. */
  charged(client: number): number;
}

/**
 * The file system as a program sees it (servers/runtime/fs.ts `FsClient`
 * over IPC; an in-process adapter over a {@link FileSystem} for tests): the
 * same operations, asynchronous, with the descriptors of this one client.
 * `fsync` and `sync` resolve once the checkpoint covering the call has
 * committed. Data of any length is accepted; the client splits it.
 */
export interface FsApi {
  open(path: string, flags: number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  read(fd: number, length: number): Promise<Uint8Array>;
  write(fd: number, data: Uint8Array): Promise<number>;
  pread(fd: number, offset: number, length: number): Promise<Uint8Array>;
  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number>;
  seek(fd: number, offset: number, whence: Whence): Promise<number>;
  ftruncate(fd: number, length: number): Promise<void>;
  fstat(fd: number): Promise<FsStat>;
  fsync(fd: number): Promise<void>;
  stat(path: string): Promise<FsStat>;
  lstat(path: string): Promise<FsStat>;
  truncate(path: string, length: number): Promise<void>;
  /** Every entry of the directory (all pages). */
  readdir(path: string): Promise<FsDirEntry[]>;
  mkdir(path: string, mode?: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  chmod(path: string, mode: number): Promise<void>;
  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void>;
  space(): Promise<FsSpace>;
  /** Resolves once every call made before it is in a committed checkpoint. */
  sync(): Promise<void>;
}
