/**
 * The host side of the differential test and the bench's baseline:
 * {@link HostFsApi}, the file-system contract (servers/fs/vfs.ts `FsApi`)
 * over Deno's file API, rooted at a temporary directory.
 *
 * Map of this file:
 * - {@link HostFsApi}: the class; its descriptors are its own small
 *   integers (the lowest free first, from 0), each over a `Deno.FsFile`;
 * - path containment: every contract path maps under the root; a
 *   resolution that would pass above it (a ".." at the root, a symlink
 *   going up too far) is resolved here, clamped at the root as the contract
 *   says, and the host is given the clamped path;
 * - error mapping: a Deno error's `code` ("ENOENT", "ENOTEMPTY", …) becomes
 *   the {@link FsError} of that name.
 *
 * What Deno's API cannot say, this class does by hand, as Linux does it:
 * absolute symlink targets are stored under the root and read back without
 * it (lstat's size is the contract target's length); O_NOFOLLOW, O_DIRECTORY,
 * O_CREAT and O_TRUNC on a read-only open are checked or done around the
 * open; unlink of a directory is EISDIR and rmdir of a non-directory
 * ENOTDIR (Deno's remove would do either); the contract's own rules (an
 * empty, relative or NUL-holding path, the path length limit, the 4 GiB
 * file limit) are checked first. `link` follows a final symlink of its
 * source, as the contract's list of unfollowed names implies (Linux's
 * linkat without AT_SYMLINK_FOLLOW would link the symlink itself).
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
  OpenFlag,
  PATH_BYTES_MAX,
  SYMLINK_FOLLOW_MAX,
  type Whence,
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

/** An open descriptor. */
interface HostFd {
  file: Deno.FsFile;
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
  private readonly fds: Array<HostFd | undefined> = [];

  /** @param root an existing empty directory; default a fresh temporary one */
  constructor(root?: string) {
    this.root = Deno.realPathSync(root ?? Deno.makeTempDirSync({ prefix: "tardigrade-fs-host-" }));
    Deno.chmodSync(this.root, ROOT_MODE);
  }

  /** Closes every descriptor and removes the root with everything under it. */
  dispose(): void {
    this.closeEvery();
    Deno.removeSync(this.root, { recursive: true });
  }

  /** Closes every descriptor and empties the root: a fresh tree, descriptors from 0. */
  reset(): void {
    this.closeEvery();
    for (const e of Deno.readDirSync(this.root)) {
      Deno.removeSync(`${this.root}/${e.name}`, { recursive: true });
    }
  }

  private closeEvery(): void {
    for (const d of this.fds) d?.file.close();
    this.fds.length = 0;
  }

  // ── paths ──

  /**
   * The host path of contract path `path`: the path under the root as it
   * is, unless resolving it would pass above the root; then the path
   * resolved here, clamped at the root, with the final name followed when
   * `followLast`. `always` resolves it here in every case.
   */
  private host(path: string, followLast: boolean, always = false): string {
    checkPath(path);
    const trailing = path.length > 1 && path.endsWith("/");
    let queue = path.split("/").filter((c) => c !== "");
    const stack: string[] = [];
    let escaped = always, follows = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        if (stack.length === 0) escaped = true;
        else stack.pop();
        continue;
      }
      const last = queue.length === 0;
      const here = `${this.root}/${[...stack, c].join("/")}`;
      let info: Deno.FileInfo;
      try {
        info = Deno.lstatSync(here);
      } catch {
        // Missing or not a directory: the host's own call fails there, before any "..".
        stack.push(c, ...queue);
        queue = [];
        break;
      }
      if (info.isSymlink && (!last || followLast || trailing)) {
        if (++follows > SYMLINK_FOLLOW_MAX) {
          stack.push(c, ...queue); // the host finds the loop itself
          queue = [];
          break;
        }
        const target = this.fromHostTarget(Deno.readLinkSync(here));
        if (target.startsWith("/")) stack.length = 0;
        queue = [...target.split("/").filter((x) => x !== ""), ...queue];
        continue;
      }
      stack.push(c);
    }
    if (!escaped) return `${this.root}${path}`;
    return `${this.root}/${stack.join("/")}${trailing && stack.length > 0 ? "/" : ""}`;
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
      const creat = (flags & OpenFlag.CREAT) !== 0, excl = creat && (flags & OpenFlag.EXCL) !== 0;
      const nofollow = (flags & OpenFlag.NOFOLLOW) !== 0;
      const p = this.host(path, !nofollow && !excl);
      if (nofollow && !excl) {
        const info = lstatOrUndefined(p);
        if (info?.isSymlink) throw new FsError(FsErrno.ELOOP, `open ${path}: a symlink`);
      }
      if (flags & OpenFlag.DIRECTORY) {
        const info = statOrUndefined(p);
        if (info && !info.isDirectory) throw new FsError(FsErrno.ENOTDIR, `open ${path}`);
      }
      const write = access !== OpenFlag.RDONLY;
      const made = creat && statOrUndefined(p) === undefined;
      if (creat && !write) {
        Deno.openSync(p, { write: true, create: true, createNew: excl, mode }).close();
      }
      const file = Deno.openSync(p, {
        read: access !== OpenFlag.WRONLY,
        write,
        append: write && (flags & OpenFlag.APPEND) !== 0,
        create: creat && write,
        createNew: excl && write,
        truncate: write && (flags & OpenFlag.TRUNC) !== 0,
        mode,
      });
      if (made) Deno.chmodSync(p, mode & 0o7777);
      if (!write && (flags & OpenFlag.TRUNC) && file.statSync().isFile) Deno.truncateSync(p, 0);
      let n = this.fds.indexOf(undefined);
      if (n < 0) n = this.fds.length;
      this.fds[n] = { file };
      return n;
    });
  }

  close(fd: number): Promise<void> {
    return this.call(`close ${fd}`, () => {
      const d = this.fd(fd);
      this.fds[fd] = undefined;
      while (this.fds.length > 0 && this.fds[this.fds.length - 1] === undefined) this.fds.pop();
      d.file.close();
    });
  }

  read(fd: number, length: number): Promise<Uint8Array> {
    return this.call(`read ${fd}`, () => readFully(this.fd(fd).file, length));
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
      const f = this.fd(fd).file;
      if (offset < 0) throw new FsError(FsErrno.EINVAL, `pread ${fd}: offset ${offset}`);
      const saved = f.seekSync(0, Deno.SeekMode.Current);
      try {
        f.seekSync(offset, Deno.SeekMode.Start);
        return readFully(f, length);
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
    return this.call(`seek ${fd}`, () => this.fd(fd).file.seekSync(offset, whence as number));
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.call(`ftruncate ${fd}`, () => {
      const f = this.fd(fd).file;
      checkLength(length);
      f.truncateSync(length);
    });
  }

  fstat(fd: number): Promise<FsStat> {
    return this.call(`fstat ${fd}`, () => toStat(this.fd(fd).file.statSync()));
  }

  fsync(fd: number): Promise<void> {
    return this.call(`fsync ${fd}`, () => this.fd(fd).file.syncSync());
  }

  // ── names ──

  stat(path: string): Promise<FsStat> {
    return this.call(
      `stat ${path}`,
      () => this.fixSymlink(toStat(Deno.statSync(this.host(path, true))), ""),
    );
  }

  lstat(path: string): Promise<FsStat> {
    return this.call(`lstat ${path}`, () => {
      const p = this.host(path, false);
      return this.fixSymlink(toStat(Deno.lstatSync(p)), p);
    });
  }

  /** A symlink's size is its contract target's length. */
  private fixSymlink(s: FsStat, p: string): FsStat {
    if (s.kind === "symlink") {
      s.size = encoder.encode(this.fromHostTarget(Deno.readLinkSync(p))).length;
    }
    return s;
  }

  truncate(path: string, length: number): Promise<void> {
    return this.call(`truncate ${path}`, () => {
      const p = this.host(path, true);
      checkLength(length);
      Deno.truncateSync(p, length);
    });
  }

  readdir(path: string): Promise<FsDirEntry[]> {
    return this.call(`readdir ${path}`, () => {
      const p = this.host(path, true);
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
      const p = this.host(path, false);
      Deno.mkdirSync(p, { mode });
      Deno.chmodSync(p, mode & 0o7777);
    });
  }

  rmdir(path: string): Promise<void> {
    return this.call(`rmdir ${path}`, () => {
      const last = path.split("/").filter((c) => c !== "").pop();
      if (last === undefined) throw new FsError(FsErrno.EBUSY, `rmdir ${path}: the root`);
      if (last === ".") throw new FsError(FsErrno.EINVAL, `rmdir ${path}: "."`);
      if (last === "..") throw new FsError(FsErrno.ENOTEMPTY, `rmdir ${path}: ".."`);
      const p = this.host(path, false);
      if (!Deno.lstatSync(p).isDirectory) throw new FsError(FsErrno.ENOTDIR, `rmdir ${path}`);
      Deno.removeSync(p);
    });
  }

  unlink(path: string): Promise<void> {
    return this.call(`unlink ${path}`, () => {
      const p = this.host(path, false);
      if (Deno.lstatSync(p).isDirectory) throw new FsError(FsErrno.EISDIR, `unlink ${path}`);
      Deno.removeSync(p);
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.call(
      `rename ${from} ${to}`,
      () => Deno.renameSync(this.host(from, false), this.host(to, false)),
    );
  }

  link(from: string, to: string): Promise<void> {
    return this.call(
      `link ${from} ${to}`,
      () => Deno.linkSync(this.host(from, true, true), this.host(to, false)),
    );
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call(`symlink ${path}`, () => {
      const p = this.host(path, false);
      if (target.includes("\0")) throw new FsError(FsErrno.EINVAL, "a target holding NUL");
      if (encoder.encode(target).length > PATH_BYTES_MAX) {
        throw new FsError(FsErrno.ENAMETOOLONG, `a target longer than ${PATH_BYTES_MAX} bytes`);
      }
      Deno.symlinkSync(target.startsWith("/") ? `${this.root}${target}` : target, p);
    });
  }

  readlink(path: string): Promise<string> {
    return this.call(
      `readlink ${path}`,
      () => this.fromHostTarget(Deno.readLinkSync(this.host(path, false))),
    );
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.call(`chmod ${path}`, () => Deno.chmodSync(this.host(path, true), mode & 0o7777));
  }

  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.call(
      `utimes ${path}`,
      () => Deno.utimeSync(this.host(path, true), new Date(atimeMs), new Date(mtimeMs)),
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
  } catch {
    return undefined;
  }
}

function statOrUndefined(p: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(p);
  } catch {
    return undefined;
  }
}

/** Reads up to `length` bytes at the file's offset, stopping at the end. */
function readFully(f: Deno.FsFile, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) {
    throw new FsError(FsErrno.EINVAL, `a read of ${length} bytes`);
  }
  const info = f.statSync();
  const pos = f.seekSync(0, Deno.SeekMode.Current);
  const n = info.isFile ? Math.min(length, Math.max(0, info.size - pos)) : length;
  const buf = new Uint8Array(Math.max(n, info.isFile ? 0 : 1));
  let got = 0;
  while (got < n || (!info.isFile && got === 0)) {
    const r = f.readSync(buf.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return buf.slice(0, Math.min(got, n));
}

/** Writes all of `data` at the file's offset; returns its length. */
function writeFully(f: Deno.FsFile, data: Uint8Array): number {
  let done = 0;
  while (done < data.length) done += f.writeSync(data.subarray(done));
  return done;
}
