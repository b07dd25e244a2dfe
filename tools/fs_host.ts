/**
 * The host side of the differential test and the bench's baseline:
 * {@link HostFsApi}, the file-system contract (servers/fs/vfs.ts `FsApi`)
 * over Deno's file API, rooted at a temporary directory.
 *
 * Map of this file:
 * - {@link HostFsApi}: the class; its descriptors are its own small
 *   integers (the lowest free first, from 0), each over a `Deno.FsFile`.
 *   A file's descriptor is opened through a hidden hard link in a
 *   directory beside the root (taken off every link count it reports):
 *   Deno's stat of a descriptor checks the path it was opened by and fails
 *   with ENOTDIR once a directory on that path has become a file;
 * - path resolution: every contract path is resolved here, as Linux's
 *   lookup does it, into a clean path under the root (no ".", "..",
 *   repeated or trailing slash, no symlink on the way), ".." of the root
 *   clamped at the root as the contract says; nothing escapes the root, and
 *   Deno (which normalises paths lexically when it checks permissions:
 *   "d/.." is "" even when d is missing, a trailing slash is dropped) is
 *   never given anything to resolve. The final name's own errors (EEXIST,
 *   EISDIR, ENOTEMPTY, EXDEV, EPERM of a directory link) are the host's;
 * - error mapping: a Deno error's `code` ("ENOENT", "ENOTEMPTY", …) becomes
 *   the {@link FsError} of that name.
 *
 * What Deno's API cannot say, this class does by hand, as Linux does it:
 * absolute symlink targets are stored under the root and read back without
 * it (lstat's size is the contract target's length); O_NOFOLLOW, O_DIRECTORY,
 * O_CREAT and O_TRUNC on a read-only open, and O_TRUNC with O_APPEND, are
 * checked or done around the open; a seek from the end of a directory is EINVAL
 * whatever the host's file system (Linux leaves it to the file system: tmpfs
 * says EINVAL, ext4 gives its hash end); unlink of a directory is EISDIR and rmdir of a non-directory
 * ENOTDIR (Deno's remove would do either); the contract's own rules (an
 * empty, relative or NUL-holding path, the path length limit, the 4 GiB
 * file limit, EMFILE past OPEN_FILES_MAX descriptors) are checked first. `link` links a final symlink of its
 * source itself, as Linux's link(2) does (the contract's list of names
 * whose final symlink is not followed leaves link's source out; the host is
 * what the differential test holds the storage to).
 *
 * The contract's umask is 0: a new file or directory is given its mode
 * again after it is made (the process's umask is left alone). Run as root, the host checks no permission bits; the
 * differential generator gives modes that keep the owner's bits for that
 * reason. `space()` counts inodes by walking the tree and reports no blocks
 * (Deno has no statfs). `fsync` and `sync` call the host's fsync, so the
 * class is the bench's durable baseline too.
 *
 * @module
 */

import {
  ACCESS_MODE_MASK,
  FILE_BYTES_MAX,
  type FsApi,
  type FsDirEntry,
  FsErrno,
  FsError,
  type FsKind,
  type FsSpace,
  type FsStat,
  NAME_BYTES_MAX,
  OPEN_FILES_MAX,
  OpenFlag,
  PATH_BYTES_MAX,
  SYMLINK_FOLLOW_MAX,
  Whence,
} from "../servers/fs/vfs.ts";

const encoder = new TextEncoder();
/** Mode of the root, as a fresh tree has it (a temporary directory is made 0o700). */
export const ROOT_MODE = 0o755;

/** The contract's checks of a path before any host call (EINVAL, ENOENT, ENAMETOOLONG). */
function checkPath(path: string): void {
  if (path === "") throw new FsError(FsErrno.ENOENT, `"${path}": an empty path`);
  if (path.includes("\0")) throw new FsError(FsErrno.EINVAL, "a path holding NUL");
  if (!path.startsWith("/")) {
    throw new FsError(FsErrno.EINVAL, `"${path}": not absolute; paths start with /`);
  }
  if (encoder.encode(path).length > PATH_BYTES_MAX) {
    throw new FsError(FsErrno.ENAMETOOLONG, `a path longer than ${PATH_BYTES_MAX} bytes`);
  }
  for (const name of path.split("/")) {
    if (encoder.encode(name).length > NAME_BYTES_MAX) {
      throw new FsError(FsErrno.ENAMETOOLONG, `a name longer than ${NAME_BYTES_MAX} bytes`);
    }
  }
}

/** The FsError a Deno error carries (by its `code`); any other error unchanged. */
function mapError(e: unknown, what: string): unknown {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && code in FsErrno && Number.isNaN(Number(code))) {
    return new FsError(FsErrno[code as keyof typeof FsErrno], `${what}: ${(e as Error).message}`);
  }
  return e;
}

/** The kind of a Deno file info. */
function kindOf(info: Deno.FileInfo): FsKind {
  return info.isSymlink ? "symlink" : info.isDirectory ? "dir" : "file";
}

/** A Deno file info as the contract's stat. */
function toStat(info: Deno.FileInfo): FsStat {
  return {
    ino: info.ino ?? 0,
    kind: kindOf(info),
    size: info.size,
    nlink: info.nlink ?? 1,
    mode: (info.mode ?? 0) & 0o7777,
    blocks: Math.ceil(((info.blocks ?? 0) * 512) / 4096),
    atimeMs: info.atime?.getTime() ?? 0,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ctimeMs: info.ctime?.getTime() ?? 0,
  };
}

/** A contract path resolved on the host ({@link HostFsApi} `resolve`). */
interface Resolved {
  /** The clean host path. */
  host: string;
  /** Its lstat; undefined when the final name is missing. */
  info: Deno.FileInfo | undefined;
  /** How the path ended: a name, ".", "..", or the root (a bare "/" or a symlink to it). */
  last: "name" | "." | ".." | "root";
  /** The path ended with a slash. */
  trailing: boolean;
}

/** An open descriptor. */
interface HostFd {
  file: Deno.FsFile;
  /** Opened for reading (Deno skips the system call of an empty read, which would say EBADF). */
  readable: boolean;
  /** A regular file (else a directory). */
  isFile: boolean;
  /** The file's hidden hard link the descriptor was opened through (see {@link HostFsApi}). */
  side?: string;
  /** The file's inode. */
  ino: number;
}

/**
 * The contract over the host's file system, rooted at a fresh temporary
 * directory (or `root`). Nothing it does reaches outside the root.
 *
 * @example
 * ```ts
 * const host = new HostFsApi();
 * const fd = await host.open("/a", OpenFlag.CREAT | OpenFlag.WRONLY, 0o644);
 * await host.write(fd, new TextEncoder().encode("hi"));
 * await host.close(fd);
 * host.dispose();
 * ```
 */
export class HostFsApi implements FsApi {
  /** The host directory the contract's "/" maps to (a real path, no symlink in it). */
  readonly root: string;
  /** Beside the root: the hidden hard links descriptors of files are opened through. */
  private readonly sideDir: string;
  private sideNext = 0;
  /** Hidden hard links per inode, taken off every link count. */
  private readonly hidden = new Map<number, number>();
  private readonly fds: Array<HostFd | undefined> = [];

  /** @param root an existing empty directory; default a fresh temporary one */
  constructor(root?: string) {
    this.root = Deno.realPathSync(root ?? Deno.makeTempDirSync({ prefix: "tardigrade-fs-host-" }));
    Deno.chmodSync(this.root, ROOT_MODE);
    this.sideDir = `${this.root}.fds`;
    Deno.mkdirSync(this.sideDir, { recursive: true });
  }

  /** Closes every descriptor and removes the root with everything under it. */
  dispose(): void {
    this.closeEvery();
    Deno.removeSync(this.root, { recursive: true });
    Deno.removeSync(this.sideDir, { recursive: true });
  }

  /** Closes every descriptor and empties the root: a fresh tree, descriptors from 0. */
  reset(): void {
    this.closeEvery();
    for (const e of Deno.readDirSync(this.root)) {
      Deno.removeSync(`${this.root}/${e.name}`, { recursive: true });
    }
    Deno.chmodSync(this.root, ROOT_MODE);
  }

  private closeEvery(): void {
    for (const d of this.fds) if (d) this.release(d);
    this.fds.length = 0;
  }

  /** Closes a descriptor's file and drops its hidden link. */
  private release(d: HostFd): void {
    d.file.close();
    if (d.side === undefined) return;
    Deno.removeSync(d.side);
    const n = (this.hidden.get(d.ino) ?? 1) - 1;
    if (n > 0) this.hidden.set(d.ino, n);
    else this.hidden.delete(d.ino);
  }

  /** A host stat as the contract's, the hidden links taken off a file's link count. */
  private statOf(info: Deno.FileInfo): FsStat {
    const s = toStat(info);
    if (s.kind === "file") s.nlink -= this.hidden.get(s.ino) ?? 0;
    return s;
  }

  // ── paths ──

  /**
   * Resolves contract path `path` here, as Linux's lookup does, into a
   * clean host path (no ".", "..", repeated or trailing slash, no symlink
   * but a final one not followed): Deno normalises the paths it is given
   * when it checks permissions ("d/.." becomes "" whether d exists or not,
   * a trailing slash is dropped), so the host is never given anything to
   * resolve. A final symlink is followed when `followLast`, and before a
   * final slash (the path's own or a followed target's) unless
   * `neverFollowLast`: unlink, rmdir and rename do not follow it, and refuse
   * the slash; open with O_CREAT says EISDIR before looking at it. Throws ENOENT, ENOTDIR, ELOOP for the directories
   * on the way; the final name may be missing.
   */
  private resolve(path: string, followLast: boolean, neverFollowLast = false): Resolved {
    checkPath(path);
    let trailing = /[^/]\/+$/.test(path);
    let queue = path.split("/").filter((c) => c !== "");
    const stack: string[] = [];
    let follows = 0;
    const dirPath = () => stack.length === 0 ? this.root : `${this.root}/${stack.join("/")}`;
    while (queue.length > 0) {
      const c = queue.shift()!;
      const last = queue.length === 0;
      if (c === "." || c === "..") {
        if (c === "..") stack.pop();
        if (last) return { host: dirPath(), info: Deno.lstatSync(dirPath()), last: c, trailing };
        continue;
      }
      const here = `${dirPath()}/${c}`;
      const info = lstatOrUndefined(here);
      if (info === undefined) {
        if (!last) throw new FsError(FsErrno.ENOENT, `${path}: no directory ${here}`);
        return { host: here, info, last: "name", trailing };
      }
      if (info.isSymlink && (!last || (trailing ? !neverFollowLast : followLast))) {
        if (++follows > SYMLINK_FOLLOW_MAX) {
          throw new FsError(FsErrno.ELOOP, `${path}: more than ${SYMLINK_FOLLOW_MAX} symlinks`);
        }
        const target = this.fromHostTarget(Deno.readLinkSync(here));
        if (target === "") throw new FsError(FsErrno.ENOENT, `${path}: an empty symlink`);
        if (target.startsWith("/")) stack.length = 0;
        const parts = target.split("/").filter((x) => x !== "");
        // A target ending in a slash is a path ending in one when nothing follows it.
        if (target.endsWith("/") && parts.length > 0 && queue.length === 0) trailing = true;
        queue = [...parts, ...queue];
        if (queue.length === 0) {
          return { host: dirPath(), info: Deno.lstatSync(dirPath()), last: "root", trailing };
        }
        continue;
      }
      if (last) return { host: here, info, last: "name", trailing };
      if (!info.isDirectory) throw new FsError(FsErrno.ENOTDIR, `${path}: ${c} is no directory`);
      stack.push(c);
    }
    return { host: dirPath(), info: Deno.lstatSync(dirPath()), last: "root", trailing };
  }

  /**
   * The clean host path of `path`, its final name followed (`follow`) or
   * not, for a call on an existing name: ENOTDIR for a trailing slash on
   * what is not a directory, `missing` (default ENOENT) when it is not there.
   */
  private existing(path: string, follow: boolean, missing = FsErrno.ENOENT): Resolved & {
    info: Deno.FileInfo;
  } {
    const r = this.resolve(path, follow);
    if (!r.info) throw new FsError(missing, `${path}: no such file or directory`);
    if (r.trailing && !r.info.isDirectory) {
      throw new FsError(FsErrno.ENOTDIR, `${path}: no directory`);
    }
    return r as Resolved & { info: Deno.FileInfo };
  }

  /**
   * The clean host path of `path` as the new name of a call that makes one
   * (mkdir, symlink, link): the final name not followed, even before a
   * slash (a dangling symlink "l" makes mkdir "l/" EEXIST);
   * EEXIST when the path names a directory by "/", "." or "..".
   */
  private entry(path: string, op: string): Resolved {
    const r = this.resolve(path, false, true);
    if (r.last !== "name") {
      throw new FsError(op === "rename" ? FsErrno.EBUSY : FsErrno.EEXIST, `${op} ${path}`);
    }
    return r;
  }

  /** A stored symlink target as the contract gave it (absolute ones without the root). */
  private fromHostTarget(t: string): string {
    if (t === this.root) return "/";
    return t.startsWith(`${this.root}/`) ? t.slice(this.root.length) : t;
  }

  private fd(fd: number): HostFd {
    const d = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!d) throw new FsError(FsErrno.EBADF, `descriptor ${fd} is not open`);
    return d;
  }

  /** The file of a descriptor open for reading (EBADF otherwise). */
  private readable(fd: number): Deno.FsFile {
    const d = this.fd(fd);
    if (!d.readable) throw new FsError(FsErrno.EBADF, `descriptor ${fd} is not open for reading`);
    return d.file;
  }

  /** Runs `f`, mapping a Deno error to its FsError. */
  private call<T>(what: string, f: () => T): Promise<T> {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(mapError(e, what));
    }
  }

  // ── descriptors ──

  open(path: string, flags: number, mode = 0o644): Promise<number> {
    return this.call(`open ${path}`, () => {
      const access = flags & ACCESS_MODE_MASK;
      if (access === ACCESS_MODE_MASK) throw new FsError(FsErrno.EINVAL, "access mode 3");
      // The contract's limit (the host's own is higher), before the lookup as Linux takes a descriptor.
      if (this.fds.filter((d) => d !== undefined).length >= OPEN_FILES_MAX) {
        throw new FsError(FsErrno.EMFILE, `open ${path}: ${OPEN_FILES_MAX} descriptors open`);
      }
      const creat = (flags & OpenFlag.CREAT) !== 0, excl = creat && (flags & OpenFlag.EXCL) !== 0;
      const nofollow = (flags & OpenFlag.NOFOLLOW) !== 0;
      // O_CREAT with a final slash is EISDIR before the final name is looked at (Linux's
      // open_last_lookups): a trailing slash does not follow a final symlink then.
      const r = this.resolve(path, !nofollow && !excl, creat);
      const p = r.host;
      if (creat && r.trailing) throw new FsError(FsErrno.EISDIR, `open ${path}: O_CREAT of a dir/`);
      if (r.info === undefined) {
        if (!creat) throw new FsError(FsErrno.ENOENT, `open ${path}: no such file`);
        if (r.trailing) throw new FsError(FsErrno.EISDIR, `open ${path}: creating a directory`);
      } else {
        if (excl) throw new FsError(FsErrno.EEXIST, `open ${path}: it exists (O_EXCL)`);
        if (r.info.isSymlink) throw new FsError(FsErrno.ELOOP, `open ${path}: a symlink`);
        if (!r.info.isDirectory && (r.trailing || (flags & OpenFlag.DIRECTORY))) {
          throw new FsError(FsErrno.ENOTDIR, `open ${path}: no directory`);
        }
        if (r.info.isDirectory && (flags & OpenFlag.TRUNC)) {
          throw new FsError(FsErrno.EISDIR, `open ${path}: O_TRUNC on a directory`);
        }
      }
      const write = access !== OpenFlag.RDONLY;
      const append = write && (flags & OpenFlag.APPEND) !== 0;
      // Deno refuses truncate with append, and truncate without write access; Linux does both.
      const trunc = (flags & OpenFlag.TRUNC) !== 0;
      const made = r.info === undefined;
      if (creat && !write) {
        Deno.openSync(p, { write: true, create: true, createNew: excl, mode }).close();
      }
      const file = Deno.openSync(p, {
        read: access !== OpenFlag.WRONLY,
        write,
        append,
        create: creat && write,
        createNew: excl && write,
        truncate: write && !append && trunc,
        mode,
      });
      if (made) Deno.chmodSync(p, mode & 0o7777);
      const info = file.statSync();
      if (trunc && (!write || append) && info.isFile) Deno.truncateSync(p, 0);
      const d: HostFd = {
        file,
        readable: access !== OpenFlag.WRONLY,
        isFile: info.isFile,
        ino: info.ino ?? 0,
      };
      if (info.isFile) {
        d.side = `${this.sideDir}/${this.sideNext++}`;
        Deno.linkSync(p, d.side);
        this.hidden.set(d.ino, (this.hidden.get(d.ino) ?? 0) + 1);
        d.file = Deno.openSync(d.side, { read: d.readable, write: write && !append, append });
        file.close();
      }
      let n = this.fds.indexOf(undefined);
      if (n < 0) n = this.fds.length;
      this.fds[n] = d;
      return n;
    });
  }

  close(fd: number): Promise<void> {
    return this.call(`close ${fd}`, () => {
      const d = this.fd(fd);
      this.fds[fd] = undefined;
      while (this.fds.length > 0 && this.fds[this.fds.length - 1] === undefined) this.fds.pop();
      this.release(d);
    });
  }

  read(fd: number, length: number): Promise<Uint8Array> {
    return this.call(`read ${fd}`, () => readFully(this.readable(fd), this.fd(fd).isFile, length));
  }

  write(fd: number, data: Uint8Array): Promise<number> {
    return this.call(`write ${fd}`, () => {
      const f = this.fd(fd).file;
      if (data.length > 0 && f.seekSync(0, Deno.SeekMode.Current) + data.length > FILE_BYTES_MAX) {
        throw new FsError(FsErrno.EFBIG, `write ${fd}: past ${FILE_BYTES_MAX} bytes`);
      }
      return writeFully(f, data);
    });
  }

  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    return this.call(`pread ${fd}`, () => {
      const f = this.readable(fd);
      if (offset < 0) throw new FsError(FsErrno.EINVAL, `pread ${fd}: offset ${offset}`);
      const saved = f.seekSync(0, Deno.SeekMode.Current);
      try {
        f.seekSync(offset, Deno.SeekMode.Start);
        return readFully(f, this.fd(fd).isFile, length);
      } finally {
        f.seekSync(saved, Deno.SeekMode.Start);
      }
    });
  }

  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    return this.call(`pwrite ${fd}`, () => {
      const f = this.fd(fd).file;
      if (offset < 0) throw new FsError(FsErrno.EINVAL, `pwrite ${fd}: offset ${offset}`);
      if (data.length > 0 && offset + data.length > FILE_BYTES_MAX) {
        throw new FsError(FsErrno.EFBIG, `pwrite ${fd}: past ${FILE_BYTES_MAX} bytes`);
      }
      const saved = f.seekSync(0, Deno.SeekMode.Current);
      try {
        f.seekSync(offset, Deno.SeekMode.Start);
        return writeFully(f, data);
      } finally {
        f.seekSync(saved, Deno.SeekMode.Start);
      }
    });
  }

  seek(fd: number, offset: number, whence: Whence): Promise<number> {
    return this.call(`seek ${fd}`, () => {
      const d = this.fd(fd);
      // Linux's answer is the file system's: tmpfs EINVAL, ext4 its hash end (2^63 - 1).
      if (!d.isFile && whence === Whence.END) {
        throw new FsError(FsErrno.EINVAL, `seek ${fd}: from the end of a directory`);
      }
      return d.file.seekSync(offset, whence as number);
    });
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.call(`ftruncate ${fd}`, () => {
      const f = this.fd(fd).file;
      checkLength(length);
      f.truncateSync(length);
    });
  }

  fstat(fd: number): Promise<FsStat> {
    return this.call(`fstat ${fd}`, () => this.statOf(this.fd(fd).file.statSync()));
  }

  fsync(fd: number): Promise<void> {
    return this.call(`fsync ${fd}`, () => this.fd(fd).file.syncSync());
  }

  // ── names ──

  stat(path: string): Promise<FsStat> {
    return this.call(`stat ${path}`, () => this.statOf(this.existing(path, true).info));
  }

  lstat(path: string): Promise<FsStat> {
    return this.call(`lstat ${path}`, () => {
      const r = this.existing(path, false);
      const s = this.statOf(r.info);
      if (s.kind === "symlink") {
        s.size = encoder.encode(this.fromHostTarget(Deno.readLinkSync(r.host))).length;
      }
      return s;
    });
  }

  truncate(path: string, length: number): Promise<void> {
    return this.call(`truncate ${path}`, () => {
      const r = this.existing(path, true);
      checkLength(length);
      Deno.truncateSync(r.host, length);
    });
  }

  readdir(path: string): Promise<FsDirEntry[]> {
    return this.call(`readdir ${path}`, () => {
      const p = this.existing(path, true).host;
      const out: FsDirEntry[] = [];
      for (const e of Deno.readDirSync(p)) {
        const info = Deno.lstatSync(`${p}/${e.name}`);
        out.push({ name: e.name, kind: kindOf(info), ino: info.ino ?? 0 });
      }
      return out;
    });
  }

  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.call(`mkdir ${path}`, () => {
      const r = this.entry(path, "mkdir");
      if (r.info) throw new FsError(FsErrno.EEXIST, `mkdir ${path}: it exists`);
      Deno.mkdirSync(r.host, { mode });
      Deno.chmodSync(r.host, mode & 0o7777);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.call(`rmdir ${path}`, () => {
      const r = this.resolve(path, false, true);
      if (r.last === "root") throw new FsError(FsErrno.EBUSY, `rmdir ${path}: the root`);
      if (r.last === ".") throw new FsError(FsErrno.EINVAL, `rmdir ${path}: "."`);
      if (r.last === "..") throw new FsError(FsErrno.ENOTEMPTY, `rmdir ${path}: ".."`);
      if (!r.info) throw new FsError(FsErrno.ENOENT, `rmdir ${path}: no such directory`);
      if (!r.info.isDirectory) throw new FsError(FsErrno.ENOTDIR, `rmdir ${path}: no directory`);
      Deno.removeSync(r.host);
    });
  }

  unlink(path: string): Promise<void> {
    return this.call(`unlink ${path}`, () => {
      const r = this.resolve(path, false, true);
      if (r.last !== "name") throw new FsError(FsErrno.EISDIR, `unlink ${path}: a directory`);
      if (!r.info) throw new FsError(FsErrno.ENOENT, `unlink ${path}: no such file`);
      if (r.info.isDirectory) throw new FsError(FsErrno.EISDIR, `unlink ${path}: a directory`);
      if (r.trailing) throw new FsError(FsErrno.ENOTDIR, `unlink ${path}: no directory`);
      Deno.removeSync(r.host);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.call(`rename ${from} ${to}`, () => {
      const rf = this.resolve(from, false, true), rt = this.resolve(to, false, true);
      if (rf.last !== "name" || rt.last !== "name") {
        throw new FsError(FsErrno.EBUSY, `rename ${from} ${to}: ".", ".." or the root`);
      }
      if (!rf.info) throw new FsError(FsErrno.ENOENT, `rename ${from}: no such file`);
      if ((rf.trailing || rt.trailing) && !rf.info.isDirectory) {
        throw new FsError(FsErrno.ENOTDIR, `rename ${from} ${to}: a slash after no directory`);
      }
      Deno.renameSync(rf.host, rt.host);
    });
  }

  link(from: string, to: string): Promise<void> {
    return this.call(`link ${from} ${to}`, () => {
      const rf = this.existing(from, false);
      const rt = this.entry(to, "link");
      // Linux's order: the new name's own errors, then EPERM for a directory (vfs_link).
      if (rt.info) throw new FsError(FsErrno.EEXIST, `link ${to}: it exists`);
      if (rt.trailing) throw new FsError(FsErrno.ENOENT, `link ${to}: a slash after a new name`);
      if (rf.info.isDirectory) throw new FsError(FsErrno.EPERM, `link ${from}: a directory`);
      Deno.linkSync(rf.host, rt.host);
    });
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call(`symlink ${path}`, () => {
      const r = this.entry(path, "symlink");
      if (r.info) throw new FsError(FsErrno.EEXIST, `symlink ${path}: it exists`);
      if (r.trailing) {
        throw new FsError(FsErrno.ENOENT, `symlink ${path}: a slash after a new name`);
      }
      if (target.includes("\0")) throw new FsError(FsErrno.EINVAL, "a target holding NUL");
      if (encoder.encode(target).length > PATH_BYTES_MAX) {
        throw new FsError(FsErrno.ENAMETOOLONG, `a target longer than ${PATH_BYTES_MAX} bytes`);
      }
      Deno.symlinkSync(target.startsWith("/") ? `${this.root}${target}` : target, r.host);
    });
  }

  readlink(path: string): Promise<string> {
    return this.call(
      `readlink ${path}`,
      () => this.fromHostTarget(Deno.readLinkSync(this.existing(path, false).host)),
    );
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.call(
      `chmod ${path}`,
      () => Deno.chmodSync(this.existing(path, true).host, mode & 0o7777),
    );
  }

  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.call(
      `utimes ${path}`,
      () => Deno.utimeSync(this.existing(path, true).host, new Date(atimeMs), new Date(mtimeMs)),
    );
  }

  // ── the whole ──

  space(): Promise<FsSpace> {
    return this.call("space", () => {
      const inos = new Set<number>();
      const walk = (p: string) => {
        for (const e of Deno.readDirSync(p)) {
          const info = Deno.lstatSync(`${p}/${e.name}`);
          inos.add(info.ino ?? 0);
          if (info.isDirectory) walk(`${p}/${e.name}`);
        }
      };
      walk(this.root);
      return {
        totalBlocks: 0,
        freeBlocks: 0,
        inodes: inos.size + 1,
        metadataBytes: 0,
        metadataCapacity: 0,
      };
    });
  }

  sync(): Promise<void> {
    return this.call("sync", () => {
      for (const d of this.fds) d?.file.syncSync();
      const dir = Deno.openSync(this.root, { read: true });
      try {
        dir.syncSync();
      } finally {
        dir.close();
      }
    });
  }
}

/** The contract's length checks of truncate and ftruncate. */
function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 0) {
    throw new FsError(FsErrno.EINVAL, `a length of ${length}`);
  }
  if (length > FILE_BYTES_MAX) throw new FsError(FsErrno.EFBIG, `a length past ${FILE_BYTES_MAX}`);
}

function lstatOrUndefined(p: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    // Only a missing name: a name over NAME_MAX from a symlink's target is the host's ENAMETOOLONG.
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Reads up to `length` bytes at the file's offset, stopping at the end (its length by seeking). */
function readFully(f: Deno.FsFile, isFile: boolean, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) {
    throw new FsError(FsErrno.EINVAL, `a read of ${length} bytes`);
  }
  if (!isFile) f.readSync(new Uint8Array(1)); // a directory: the host's EISDIR
  const pos = f.seekSync(0, Deno.SeekMode.Current);
  const size = f.seekSync(0, Deno.SeekMode.End);
  f.seekSync(pos, Deno.SeekMode.Start);
  const n = Math.min(length, Math.max(0, size - pos));
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = f.readSync(buf.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return buf.slice(0, got);
}

/** Writes all of `data` at the file's offset; returns its length. */
function writeFully(f: Deno.FsFile, data: Uint8Array): number {
  let done = 0;
  while (done < data.length) done += f.writeSync(data.subarray(done));
  return done;
}
