/**
 * A stand-in for the FS server's storage while servers/fs/store/ is being
 * written: the same entry points (`openFsStore(meta, segments, now)`,
 * `fsMetaPagesFor(dataPages)`) over a tree held in the heap and written
 * whole, as one snapshot, into the metadata PMO and the data segments after
 * every call that changes it. Correct and durable (the snapshot is in NVM
 * before the handler ends), not fast: each change rewrites the tree. When
 * servers/fs/store/mod.ts lands, main.ts and servers/init/config.ts import
 * from it instead and this file goes.
 *
 * Map: path resolution (`walk`), the {@link FileSystem} operations, the
 * snapshot (`save`, `load`).
 *
 * @module
 */

import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import {
  ACCESS_MODE_MASK,
  FILE_BYTES_MAX,
  type FileSystem,
  FS_BLOCK_BYTES,
  type FsDirPage,
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
} from "./vfs.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** "FSIS": marks a written snapshot. */
const SNAPSHOT_MAGIC = 0x53495346;
/** Bytes before the snapshot: magic, length (f64). */
const SNAPSHOT_HEADER_BYTES = 16;

interface Inode {
  ino: number;
  kind: FsKind;
  mode: number;
  nlink: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /** The client its data is charged to. */
  client: number;
  data: Uint8Array;
  target: string;
  entries: Map<string, number>;
  /** A directory's parent (the root's is itself). */
  parent: number;
}

interface Descriptor {
  ino: number;
  flags: number;
  offset: number;
}

function fail(errno: FsErrno, what: string): never {
  throw new FsError(errno, what);
}

/** Pages of metadata the stand-in wants beside `dataPages` of data (a snapshot of names and inodes). */
export function fsMetaPagesFor(dataPages: number): number {
  return Math.max(16, Math.ceil(dataPages / 16));
}

/** Opens the tree kept in `meta` and `segments` (a fresh one when they hold none). */
export function openFsStore(
  meta: PersistentMemory,
  segments: PersistentMemory[],
  now: () => number,
): { fs: FileSystem; fresh: boolean } {
  const fs = new InterimFs(meta, segments, now);
  const fresh = !fs.load();
  if (fresh) fs.save();
  return { fs, fresh };
}

class InterimFs implements FileSystem {
  private inodes = new Map<number, Inode>();
  private nextIno = 2;
  private fds = new Map<number, Map<number, Descriptor>>();
  private quotas = new Map<number, number>();
  private readonly capacityBytes: number;

  constructor(
    private readonly meta: PersistentMemory,
    private readonly segments: PersistentMemory[],
    private readonly now: () => number,
  ) {
    this.capacityBytes = segments.reduce((n, s) => n + s.bytes.length, 0);
    this.inodes.set(1, this.inode(1, "dir", 0o755, 0));
    this.inodes.get(1)!.parent = 1;
  }

  private inode(ino: number, kind: FsKind, mode: number, client: number): Inode {
    const t = this.now();
    return {
      ino,
      kind,
      mode: mode & 0o7777,
      nlink: kind === "dir" ? 2 : 1,
      atimeMs: t,
      mtimeMs: t,
      ctimeMs: t,
      client,
      data: new Uint8Array(0),
      target: "",
      entries: new Map(),
      parent: 0,
    };
  }

  // ── paths ──

  private split(path: string): string[] {
    if (typeof path !== "string" || path.length === 0) fail(FsErrno.ENOENT, "empty path");
    if (path.includes("\0")) fail(FsErrno.EINVAL, "a path holds no NUL");
    if (encoder.encode(path).length > PATH_BYTES_MAX) {
      fail(FsErrno.ENAMETOOLONG, `a path is at most ${PATH_BYTES_MAX} bytes`);
    }
    if (!path.startsWith("/")) fail(FsErrno.EINVAL, `${path}: paths are absolute`);
    const parts = path.split("/").filter((p) => p.length > 0);
    for (const p of parts) {
      if (encoder.encode(p).length > NAME_BYTES_MAX) {
        fail(FsErrno.ENAMETOOLONG, `a name is at most ${NAME_BYTES_MAX} bytes`);
      }
    }
    return parts;
  }

  /**
   * Resolves `path` to its directory, last name and inode (undefined when
   * the name is free). `follow` follows a final symlink.
   */
  private walk(path: string, follow: boolean, depth = { n: 0 }) {
    const parts = this.split(path);
    const trailingSlash = path.endsWith("/") && parts.length > 0;
    let dir = this.inodes.get(1)!;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i];
      const last = i === parts.length - 1;
      if (dir.kind !== "dir") fail(FsErrno.ENOTDIR, `${path}: not a directory`);
      if (name === ".") {
        if (last) return { dir, name: ".", node: dir as Inode | undefined, trailingSlash };
        continue;
      }
      if (name === "..") {
        const up = this.inodes.get(dir.parent)!;
        if (last) return { dir: up, name: "..", node: up as Inode | undefined, trailingSlash };
        dir = up;
        continue;
      }
      if ((dir.mode & 0o100) === 0) fail(FsErrno.EACCES, `${path}: no search permission`);
      const ino = dir.entries.get(name);
      const node = ino === undefined ? undefined : this.inodes.get(ino)!;
      if (last) {
        if (node?.kind === "symlink" && (follow || trailingSlash)) {
          return this.followLink(node, dir, path, follow, depth);
        }
        if (trailingSlash && node && node.kind !== "dir") {
          fail(FsErrno.ENOTDIR, `${path}: not a directory`);
        }
        return { dir, name, node, trailingSlash };
      }
      if (!node) fail(FsErrno.ENOENT, `${path}: no such file or directory`);
      if (node.kind === "symlink") {
        const r = this.followLink(node, dir, path, true, depth);
        if (!r.node) fail(FsErrno.ENOENT, `${path}: no such file or directory`);
        dir = r.node;
      } else dir = node;
    }
    return { dir, name: "/", node: dir as Inode | undefined, trailingSlash };
  }

  private followLink(
    link: Inode,
    dir: Inode,
    path: string,
    follow: boolean,
    depth: { n: number },
  ): { dir: Inode; name: string; node: Inode | undefined; trailingSlash: boolean } {
    if (++depth.n > SYMLINK_FOLLOW_MAX) fail(FsErrno.ELOOP, `${path}: too many symlinks`);
    const base = link.target.startsWith("/") ? link.target : `${this.pathOf(dir)}/${link.target}`;
    return this.walk(base, follow, depth);
  }

  private pathOf(dir: Inode): string {
    const names: string[] = [];
    for (let d = dir; d.ino !== 1;) {
      const up = this.inodes.get(d.parent)!;
      for (const [n, i] of up.entries) if (i === d.ino) names.unshift(n);
      d = up;
    }
    return "/" + names.join("/");
  }

  private existing(path: string, follow: boolean): Inode {
    const r = this.walk(path, follow);
    if (!r.node) fail(FsErrno.ENOENT, `${path}: no such file or directory`);
    return r.node;
  }

  private writableDir(dir: Inode, path: string): void {
    if ((dir.mode & 0o300) !== 0o300) fail(FsErrno.EACCES, `${path}: directory not writable`);
  }

  private freshName(path: string): { dir: Inode; name: string } {
    const r = this.walk(path, false);
    if (r.node) fail(FsErrno.EEXIST, `${path}: exists`);
    this.writableDir(r.dir, path);
    return { dir: r.dir, name: r.name };
  }

  // ── descriptors ──

  private table(owner: number): Map<number, Descriptor> {
    let t = this.fds.get(owner);
    if (!t) this.fds.set(owner, t = new Map());
    return t;
  }

  private fd(owner: number, fd: number): Descriptor {
    const d = this.fds.get(owner)?.get(fd);
    if (!d) fail(FsErrno.EBADF, `descriptor ${fd} is not open`);
    return d;
  }

  open(owner: number, client: number, path: string, flags: number, mode = 0o644): number {
    const r = this.walk(path, (flags & OpenFlag.NOFOLLOW) === 0);
    let node = r.node;
    const access = flags & ACCESS_MODE_MASK;
    if (access === 3) fail(FsErrno.EINVAL, "access mode 3");
    if (node && (flags & OpenFlag.CREAT) && (flags & OpenFlag.EXCL)) {
      fail(FsErrno.EEXIST, `${path}: exists`);
    }
    if (node?.kind === "symlink") fail(FsErrno.ELOOP, `${path}: a symlink (O_NOFOLLOW)`);
    if (!node && !(flags & OpenFlag.CREAT)) fail(FsErrno.ENOENT, `${path}: no such file`);
    if (!node && r.trailingSlash) fail(FsErrno.EISDIR, `${path}: names a directory`);
    if (node?.kind === "dir" && access !== OpenFlag.RDONLY) {
      fail(FsErrno.EISDIR, `${path}: a directory`);
    }
    if (node && node.kind !== "dir" && (flags & OpenFlag.DIRECTORY)) {
      fail(FsErrno.ENOTDIR, `${path}: not a directory`);
    }
    if (node) {
      if (access !== OpenFlag.WRONLY && (node.mode & 0o400) === 0) fail(FsErrno.EACCES, path);
      if (access !== OpenFlag.RDONLY && (node.mode & 0o200) === 0) fail(FsErrno.EACCES, path);
    }
    const t = this.table(owner);
    if (t.size >= OPEN_FILES_MAX) fail(FsErrno.EMFILE, `${OPEN_FILES_MAX} descriptors open`);
    if (!node) {
      this.writableDir(r.dir, path);
      node = this.inode(this.nextIno++, "file", mode, client);
      this.inodes.set(node.ino, node);
      r.dir.entries.set(r.name, node.ino);
      r.dir.mtimeMs = r.dir.ctimeMs = this.now();
    } else if ((flags & OpenFlag.TRUNC) && access !== OpenFlag.RDONLY && node.kind === "file") {
      node.data = new Uint8Array(0);
      node.mtimeMs = node.ctimeMs = this.now();
    }
    let fd = 0;
    while (t.has(fd)) fd++;
    t.set(fd, { ino: node.ino, flags, offset: 0 });
    this.save();
    return fd;
  }

  close(owner: number, fd: number): void {
    const d = this.fd(owner, fd);
    this.fds.get(owner)!.delete(fd);
    this.release(d.ino);
    this.save();
  }

  closeAll(owner: number): number {
    const t = this.fds.get(owner);
    if (!t) return 0;
    const n = t.size;
    this.fds.delete(owner);
    for (const d of t.values()) this.release(d.ino);
    this.save();
    return n;
  }

  /** Frees an unlinked inode at its last close. */
  private release(ino: number): void {
    const node = this.inodes.get(ino);
    if (!node || node.nlink > 0) return;
    for (const t of this.fds.values()) for (const d of t.values()) if (d.ino === ino) return;
    this.inodes.delete(ino);
  }

  private file(owner: number, fd: number, write: boolean): { d: Descriptor; node: Inode } {
    const d = this.fd(owner, fd);
    const node = this.inodes.get(d.ino)!;
    const access = d.flags & ACCESS_MODE_MASK;
    if (write && access === OpenFlag.RDONLY) fail(FsErrno.EBADF, `descriptor ${fd} is read-only`);
    if (!write && access === OpenFlag.WRONLY) fail(FsErrno.EBADF, `descriptor ${fd} is write-only`);
    if (node.kind === "dir") fail(FsErrno.EISDIR, `descriptor ${fd} is a directory`);
    return { d, node };
  }

  private count(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) fail(FsErrno.EINVAL, `${what} ${n}`);
  }

  read(owner: number, fd: number, length: number): Uint8Array {
    const { d } = this.file(owner, fd, false);
    const out = this.pread(owner, fd, d.offset, length);
    d.offset += out.length;
    return out;
  }

  write(owner: number, fd: number, data: Uint8Array): number {
    const { d, node } = this.file(owner, fd, true);
    const at = (d.flags & OpenFlag.APPEND) ? node.data.length : d.offset;
    const n = this.writeAt(node, at, data);
    d.offset = at + n;
    this.save();
    return n;
  }

  pread(owner: number, fd: number, offset: number, length: number): Uint8Array {
    const { node } = this.file(owner, fd, false);
    this.count(offset, "offset");
    this.count(length, "length");
    return node.data.slice(
      Math.min(offset, node.data.length),
      Math.min(offset + length, node.data.length),
    );
  }

  pwrite(owner: number, fd: number, offset: number, data: Uint8Array): number {
    const { d, node } = this.file(owner, fd, true);
    this.count(offset, "offset");
    const n = this.writeAt(node, (d.flags & OpenFlag.APPEND) ? node.data.length : offset, data);
    this.save();
    return n;
  }

  private blocks(bytes: number): number {
    return Math.ceil(bytes / FS_BLOCK_BYTES);
  }

  /** Grows a file to `end` bytes, or fails ENOSPC / EFBIG. */
  private grow(node: Inode, end: number): void {
    if (end > FILE_BYTES_MAX) fail(FsErrno.EFBIG, `a file ends at ${FILE_BYTES_MAX} bytes`);
    if (end <= node.data.length) return;
    const more = this.blocks(end) - this.blocks(node.data.length);
    const quota = this.quotas.get(node.client);
    if (quota !== undefined && this.charged(node.client) + more > quota) {
      fail(FsErrno.ENOSPC, `client ${node.client} is over its quota of ${quota} blocks`);
    }
    if (more > this.space().freeBlocks) fail(FsErrno.ENOSPC, "the file system is full");
    const data = new Uint8Array(end);
    data.set(node.data);
    node.data = data;
  }

  private writeAt(node: Inode, at: number, data: Uint8Array): number {
    if (data.length === 0) return 0;
    this.grow(node, at + data.length);
    node.data.set(data, at);
    node.mtimeMs = node.ctimeMs = this.now();
    return data.length;
  }

  seek(owner: number, fd: number, offset: number, whence: Whence): number {
    const d = this.fd(owner, fd);
    const node = this.inodes.get(d.ino)!;
    const base = whence === Whence.SET
      ? 0
      : whence === Whence.CUR
      ? d.offset
      : whence === Whence.END
      ? node.data.length
      : NaN;
    const at = base + offset;
    if (!Number.isSafeInteger(at) || at < 0) fail(FsErrno.EINVAL, `seek to ${at}`);
    d.offset = at;
    this.save();
    return at;
  }

  private setLength(node: Inode, length: number): void {
    this.count(length, "length");
    if (node.kind === "dir") fail(FsErrno.EISDIR, "a directory");
    if (length > node.data.length) this.grow(node, length);
    else node.data = node.data.slice(0, length);
    node.mtimeMs = node.ctimeMs = this.now();
    this.save();
  }

  ftruncate(owner: number, fd: number, length: number): void {
    const d = this.fd(owner, fd);
    if ((d.flags & ACCESS_MODE_MASK) === OpenFlag.RDONLY) {
      fail(FsErrno.EINVAL, "read-only descriptor");
    }
    this.setLength(this.inodes.get(d.ino)!, length);
  }

  private statOf(node: Inode): FsStat {
    return {
      ino: node.ino,
      kind: node.kind,
      size: node.kind === "file"
        ? node.data.length
        : node.kind === "symlink"
        ? encoder.encode(node.target).length
        : node.entries.size,
      nlink: node.nlink,
      mode: node.mode,
      blocks: node.kind === "file" ? this.blocks(node.data.length) : 0,
      atimeMs: node.atimeMs,
      mtimeMs: node.mtimeMs,
      ctimeMs: node.ctimeMs,
    };
  }

  fstat(owner: number, fd: number): FsStat {
    return this.statOf(this.inodes.get(this.fd(owner, fd).ino)!);
  }

  fsync(owner: number, fd: number): void {
    this.fd(owner, fd);
  }

  // ── names ──

  stat(path: string): FsStat {
    return this.statOf(this.existing(path, true));
  }

  lstat(path: string): FsStat {
    return this.statOf(this.existing(path, false));
  }

  truncate(path: string, length: number): void {
    const node = this.existing(path, true);
    if ((node.mode & 0o200) === 0) fail(FsErrno.EACCES, path);
    this.setLength(node, length);
  }

  readdir(path: string, cursor: number, max: number): FsDirPage {
    const dir = this.existing(path, true);
    if (dir.kind !== "dir") fail(FsErrno.ENOTDIR, `${path}: not a directory`);
    const all = [...dir.entries].sort((a, b) => a[1] - b[1]);
    const from = all.findIndex(([, ino]) => ino > cursor);
    const page = from < 0 ? [] : all.slice(from, from + Math.max(1, max));
    const entries = page.map(([name, ino]) => ({ name, ino, kind: this.inodes.get(ino)!.kind }));
    const more = from >= 0 && from + page.length < all.length;
    return { entries, cursor: more ? page[page.length - 1][1] : 0 };
  }

  mkdir(path: string, mode: number): void {
    const { dir, name } = this.freshName(path);
    const node = this.inode(this.nextIno++, "dir", mode, 0);
    node.parent = dir.ino;
    this.inodes.set(node.ino, node);
    dir.entries.set(name, node.ino);
    dir.nlink++;
    this.save();
  }

  rmdir(path: string): void {
    const r = this.walk(path, false);
    if (!r.node) fail(FsErrno.ENOENT, path);
    if (r.node.kind !== "dir") fail(FsErrno.ENOTDIR, path);
    if (r.node.ino === 1 || r.name === "." || r.name === "..") fail(FsErrno.EBUSY, path);
    if (r.node.entries.size > 0) fail(FsErrno.ENOTEMPTY, path);
    this.writableDir(r.dir, path);
    r.dir.entries.delete(r.name);
    r.dir.nlink--;
    this.inodes.delete(r.node.ino);
    this.save();
  }

  unlink(path: string): void {
    const r = this.walk(path, false);
    if (!r.node) fail(FsErrno.ENOENT, path);
    if (r.node.kind === "dir") fail(FsErrno.EISDIR, path);
    this.writableDir(r.dir, path);
    r.dir.entries.delete(r.name);
    r.node.nlink--;
    this.release(r.node.ino);
    this.save();
  }

  rename(from: string, to: string): void {
    const a = this.walk(from, false);
    if (!a.node) fail(FsErrno.ENOENT, from);
    const b = this.walk(to, false);
    if (a.node === b.node) return;
    if (a.node.kind === "dir") {
      for (let d = b.dir;; d = this.inodes.get(d.parent)!) {
        if (d.ino === a.node.ino) fail(FsErrno.EINVAL, `${to} is inside ${from}`);
        if (d.ino === 1) break;
      }
    }
    if (b.node) {
      if (a.node.kind === "dir" && b.node.kind !== "dir") fail(FsErrno.ENOTDIR, to);
      if (a.node.kind !== "dir" && b.node.kind === "dir") fail(FsErrno.EISDIR, to);
      if (b.node.kind === "dir" && b.node.entries.size > 0) fail(FsErrno.ENOTEMPTY, to);
    }
    this.writableDir(a.dir, from);
    this.writableDir(b.dir, to);
    if (b.node) {
      b.dir.entries.delete(b.name);
      if (b.node.kind === "dir") {
        b.dir.nlink--;
        this.inodes.delete(b.node.ino);
      } else {
        b.node.nlink--;
        this.release(b.node.ino);
      }
    }
    a.dir.entries.delete(a.name);
    b.dir.entries.set(b.name, a.node.ino);
    if (a.node.kind === "dir") {
      a.dir.nlink--;
      b.dir.nlink++;
      a.node.parent = b.dir.ino;
    }
    this.save();
  }

  link(from: string, to: string): void {
    const node = this.existing(from, true);
    if (node.kind === "dir") fail(FsErrno.EPERM, `${from}: a directory`);
    const { dir, name } = this.freshName(to);
    dir.entries.set(name, node.ino);
    node.nlink++;
    this.save();
  }

  symlink(target: string, path: string): void {
    if (target.length === 0 || target.includes("\0")) fail(FsErrno.EINVAL, "symlink target");
    const { dir, name } = this.freshName(path);
    const node = this.inode(this.nextIno++, "symlink", 0o777, 0);
    node.target = target;
    this.inodes.set(node.ino, node);
    dir.entries.set(name, node.ino);
    this.save();
  }

  readlink(path: string): string {
    const node = this.existing(path, false);
    if (node.kind !== "symlink") fail(FsErrno.EINVAL, `${path}: not a symlink`);
    return node.target;
  }

  chmod(path: string, mode: number): void {
    const node = this.existing(path, true);
    node.mode = mode & 0o7777;
    node.ctimeMs = this.now();
    this.save();
  }

  utimes(path: string, atimeMs: number, mtimeMs: number): void {
    const node = this.existing(path, true);
    node.atimeMs = atimeMs;
    node.mtimeMs = mtimeMs;
    this.save();
  }

  // ── the whole ──

  space(): FsSpace {
    let used = 0;
    for (const n of this.inodes.values()) used += this.blocks(n.data.length);
    const total = Math.floor(this.capacityBytes / FS_BLOCK_BYTES);
    return {
      totalBlocks: total,
      freeBlocks: Math.max(0, total - used),
      inodes: this.inodes.size,
      metadataBytes: this.meta.getF64(8),
      metadataCapacity: this.meta.bytes.length,
    };
  }

  setQuota(client: number, blocks: number | undefined): void {
    if (blocks === undefined) this.quotas.delete(client);
    else this.quotas.set(client, blocks);
    this.save();
  }

  charged(client: number): number {
    let n = 0;
    for (const i of this.inodes.values()) if (i.client === client) n += this.blocks(i.data.length);
    return n;
  }

  // ── the snapshot ──

  /** Writes the whole tree: a JSON record into the metadata PMO, the file bytes into the segments. */
  save(): void {
    const blobs: Uint8Array[] = [];
    let at = 0;
    const nodes = [...this.inodes.values()].map((n) => {
      const rec = { ...n, data: [at, n.data.length], entries: [...n.entries] };
      blobs.push(n.data);
      at += n.data.length;
      return rec;
    });
    const fds = [...this.fds].map(([o, t]) => [o, [...t]]);
    const json = encoder.encode(
      JSON.stringify({ nodes, fds, nextIno: this.nextIno, quotas: [...this.quotas] }),
    );
    if (SNAPSHOT_HEADER_BYTES + json.length > this.meta.bytes.length) {
      fail(FsErrno.ENOSPC, "the metadata is full");
    }
    let seg = 0, off = 0;
    for (const b of blobs) {
      for (let done = 0; done < b.length;) {
        const room = this.segments[seg].bytes.length - off;
        const n = Math.min(room, b.length - done);
        this.segments[seg].write(off, b.subarray(done, done + n));
        done += n;
        off += n;
        if (off === this.segments[seg].bytes.length) seg++, off = 0;
      }
    }
    this.meta.write(SNAPSHOT_HEADER_BYTES, json);
    this.meta.setF64(8, json.length);
    this.meta.setU32(0, SNAPSHOT_MAGIC);
  }

  /** Reads the tree back; false when the PMOs hold none (a fresh file system). */
  load(): boolean {
    if (this.meta.getU32(0) !== SNAPSHOT_MAGIC) return false;
    const n = this.meta.getF64(8);
    const snap = JSON.parse(decoder.decode(this.meta.read(SNAPSHOT_HEADER_BYTES, n)));
    const all = new Uint8Array(this.capacityBytes);
    let at = 0;
    for (const s of this.segments) all.set(s.read(0, s.bytes.length), at), at += s.bytes.length;
    this.inodes = new Map();
    for (const r of snap.nodes) {
      const [from, len] = r.data as [number, number];
      this.inodes.set(r.ino, {
        ...r,
        data: all.slice(from, from + len),
        entries: new Map(r.entries),
      });
    }
    this.fds = new Map(
      (snap.fds as Array<[number, Array<[number, Descriptor]>]>).map(([o, t]) => [o, new Map(t)]),
    );
    this.nextIno = snap.nextIno;
    this.quotas = new Map(snap.quotas);
    return true;
  }
}
