/**
 * A small volatile FsApi in the program's own memory, for the shell's
 * network tests before the FS server serves a tree: names resolved as
 * text (no symlinks followed), files as byte arrays. Everything is lost
 * at a crash; the shell's own session state is what those tests watch.
 *
 * @module
 */

import { normalise } from "../../servers/apps/shell/commands.ts";
import {
  type FsApi,
  type FsDirEntry,
  FsErrno,
  FsError,
  type FsSpace,
  type FsStat,
  OpenFlag,
  type Whence,
} from "../../servers/fs/vfs.ts";

interface Node {
  ino: number;
  kind: "file" | "dir" | "symlink";
  data: Uint8Array;
  mode: number;
  mtimeMs: number;
}

/** The volatile FsApi. */
export class MemFs implements FsApi {
  private readonly nodes = new Map<string, Node>();
  private readonly fds = new Map<number, string>();
  private nextIno = 2;
  private nextFd = 3;

  constructor() {
    this.nodes.set("/", {
      ino: 1,
      kind: "dir",
      data: new Uint8Array(0),
      mode: 0o755,
      mtimeMs: Date.now(),
    });
  }

  private node(path: string): Node {
    const n = this.nodes.get(normalise(path));
    if (n === undefined) throw new FsError(FsErrno.ENOENT, `${path}: no such file or directory`);
    return n;
  }

  private parentOf(path: string): string {
    const p = normalise(path);
    const parent = p.slice(0, p.lastIndexOf("/")) || "/";
    if (this.node(parent).kind !== "dir") {
      throw new FsError(FsErrno.ENOTDIR, `${parent}: not a directory`);
    }
    return parent;
  }

  private add(
    path: string,
    kind: Node["kind"],
    mode: number,
    data: Uint8Array = new Uint8Array(0),
  ): void {
    this.parentOf(path);
    if (this.nodes.has(normalise(path))) throw new FsError(FsErrno.EEXIST, `${path}: exists`);
    this.nodes.set(normalise(path), { ino: this.nextIno++, kind, data, mode, mtimeMs: Date.now() });
  }

  private children(path: string): string[] {
    const p = normalise(path), pre = p === "/" ? "/" : p + "/";
    return [...this.nodes.keys()].filter((k) =>
      k !== p && k.startsWith(pre) && !k.slice(pre.length).includes("/")
    );
  }

  private statOf(n: Node): FsStat {
    return {
      ino: n.ino,
      kind: n.kind,
      size: n.data.length,
      nlink: 1,
      mode: n.mode,
      blocks: Math.ceil(n.data.length / 4096),
      atimeMs: n.mtimeMs,
      mtimeMs: n.mtimeMs,
      ctimeMs: n.mtimeMs,
    };
  }

  private file(fd: number): Node {
    const p = this.fds.get(fd);
    if (p === undefined) throw new FsError(FsErrno.EBADF, `fd ${fd}`);
    return this.node(p);
  }

  private async do<T>(fn: () => T): Promise<T> {
    await Promise.resolve();
    return fn();
  }

  open(path: string, flags: number, mode = 0o644): Promise<number> {
    return this.do(() => {
      if (!this.nodes.has(normalise(path))) {
        if (!(flags & OpenFlag.CREAT)) this.node(path);
        this.add(path, "file", mode);
      }
      const n = this.node(path);
      if (n.kind === "dir" && (flags & 3) !== OpenFlag.RDONLY) {
        throw new FsError(FsErrno.EISDIR, path);
      }
      if (flags & OpenFlag.TRUNC) n.data = new Uint8Array(0);
      this.fds.set(this.nextFd, normalise(path));
      return this.nextFd++;
    });
  }
  close(fd: number): Promise<void> {
    return this.do(() => {
      this.file(fd);
      this.fds.delete(fd);
    });
  }
  read(): Promise<Uint8Array> {
    return this.do(() => new Uint8Array(0));
  }
  write(fd: number, data: Uint8Array): Promise<number> {
    return this.pwrite(fd, this.file(fd).data.length, data);
  }
  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    return this.do(() => this.file(fd).data.slice(offset, offset + length));
  }
  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    return this.do(() => {
      const n = this.file(fd);
      const next = new Uint8Array(Math.max(n.data.length, offset + data.length));
      next.set(n.data);
      next.set(data, offset);
      n.data = next;
      return data.length;
    });
  }
  seek(_fd: number, offset: number, _whence: Whence): Promise<number> {
    return this.do(() => offset);
  }
  ftruncate(fd: number, length: number): Promise<void> {
    return this.do(() => {
      const n = this.file(fd);
      const next = new Uint8Array(length);
      next.set(n.data.subarray(0, length));
      n.data = next;
    });
  }
  fstat(fd: number): Promise<FsStat> {
    return this.do(() => this.statOf(this.file(fd)));
  }
  fsync(fd: number): Promise<void> {
    return this.do(() => void this.file(fd));
  }
  stat(path: string): Promise<FsStat> {
    return this.do(() => this.statOf(this.node(path)));
  }
  lstat(path: string): Promise<FsStat> {
    return this.stat(path);
  }
  truncate(): Promise<void> {
    return this.do(() => {});
  }
  readdir(path: string): Promise<FsDirEntry[]> {
    return this.do(() => {
      if (this.node(path).kind !== "dir") throw new FsError(FsErrno.ENOTDIR, path);
      return this.children(path).map((k) => {
        const n = this.nodes.get(k)!;
        return { name: k.slice(k.lastIndexOf("/") + 1), kind: n.kind, ino: n.ino };
      });
    });
  }
  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.do(() => this.add(path, "dir", mode));
  }
  rmdir(path: string): Promise<void> {
    return this.do(() => {
      if (this.node(path).kind !== "dir") throw new FsError(FsErrno.ENOTDIR, path);
      if (this.children(path).length > 0) throw new FsError(FsErrno.ENOTEMPTY, path);
      this.nodes.delete(normalise(path));
    });
  }
  unlink(path: string): Promise<void> {
    return this.do(() => {
      if (this.node(path).kind === "dir") throw new FsError(FsErrno.EISDIR, path);
      this.nodes.delete(normalise(path));
    });
  }
  rename(from: string, to: string): Promise<void> {
    return this.do(() => {
      const n = this.node(from);
      this.parentOf(to);
      const f = normalise(from), t = normalise(to);
      for (const k of [...this.nodes.keys()]) {
        if (k === f || k.startsWith(f + "/")) {
          const v = this.nodes.get(k)!;
          this.nodes.delete(k);
          this.nodes.set(t + k.slice(f.length), v);
        }
      }
      this.nodes.set(t, n);
    });
  }
  link(from: string, to: string): Promise<void> {
    return this.do(() => this.add(to, "file", 0o644, this.node(from).data));
  }
  symlink(target: string, path: string): Promise<void> {
    return this.do(() => this.add(path, "symlink", 0o777, new TextEncoder().encode(target)));
  }
  readlink(path: string): Promise<string> {
    return this.do(() => new TextDecoder().decode(this.node(path).data));
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.do(() => void (this.node(path).mode = mode));
  }
  utimes(): Promise<void> {
    return this.do(() => {});
  }
  space(): Promise<FsSpace> {
    return this.do(() => ({
      totalBlocks: 256,
      freeBlocks: 256,
      inodes: this.nodes.size,
      metadataBytes: 0,
      metadataCapacity: 0,
    }));
  }
  sync(): Promise<void> {
    return this.do(() => {});
  }
}
