/**
 * The host side of the file-system benchmark until `HostFsApi`
 * (tools/fs_host.ts) is merged: the operations the workloads use
 * ({@link BenchFs}) over Deno's synchronous file API, rooted at a
 * temporary directory on the host's disk. `fsync(fd)` is the host's fsync
 * of the file; `sync()` fsyncs every directory whose entries changed since
 * the last one (what a program does to make a create, rename or unlink
 * durable) and every open file.
 *
 * @module
 */

import { OpenFlag } from "../../servers/fs/vfs.ts";
import type { BenchFs } from "./fs_workloads.ts";

/** {@link BenchFs} over a temporary host directory. */
export class HostBenchFs implements BenchFs {
  private readonly files = new Map<number, Deno.FsFile>();
  private readonly dirty = new Set<string>();
  private next = 3;

  private constructor(readonly root: string) {}

  /** A fresh temporary directory (in the system's temporary folder, on disk here). */
  static create(): HostBenchFs {
    return new HostBenchFs(Deno.makeTempDirSync({ prefix: "tardigrade-fsbench-" }));
  }

  /** Closes every file and removes the directory. */
  dispose(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
    Deno.removeSync(this.root, { recursive: true });
  }

  private host(path: string): string {
    return `${this.root}${path}`;
  }

  private touched(path: string): void {
    this.dirty.add(this.host(path).replace(/\/[^/]*$/, "") || "/");
  }

  private file(fd: number): Deno.FsFile {
    const f = this.files.get(fd);
    if (!f) throw new Error(`EBADF: descriptor ${fd} is not open`);
    return f;
  }

  open(path: string, flags: number, mode = 0o644): Promise<number> {
    const access = flags & 3;
    const f = Deno.openSync(this.host(path), {
      read: access !== OpenFlag.WRONLY,
      write: access !== OpenFlag.RDONLY,
      create: (flags & OpenFlag.CREAT) !== 0 && (flags & OpenFlag.EXCL) === 0,
      createNew: (flags & OpenFlag.CREAT) !== 0 && (flags & OpenFlag.EXCL) !== 0,
      truncate: (flags & OpenFlag.TRUNC) !== 0,
      append: (flags & OpenFlag.APPEND) !== 0,
      mode,
    });
    if (flags & OpenFlag.CREAT) this.touched(path);
    const fd = this.next++;
    this.files.set(fd, f);
    return Promise.resolve(fd);
  }

  close(fd: number): Promise<void> {
    this.file(fd).close();
    this.files.delete(fd);
    return Promise.resolve();
  }

  write(fd: number, data: Uint8Array): Promise<number> {
    const f = this.file(fd);
    for (let off = 0; off < data.length;) off += f.writeSync(data.subarray(off));
    return Promise.resolve(data.length);
  }

  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    const f = this.file(fd);
    const at = f.seekSync(0, Deno.SeekMode.Current);
    f.seekSync(offset, Deno.SeekMode.Start);
    for (let off = 0; off < data.length;) off += f.writeSync(data.subarray(off));
    f.seekSync(at, Deno.SeekMode.Start);
    return Promise.resolve(data.length);
  }

  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    const f = this.file(fd);
    const at = f.seekSync(0, Deno.SeekMode.Current);
    f.seekSync(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = f.readSync(buf.subarray(got));
      if (n === null || n === 0) break;
      got += n;
    }
    f.seekSync(at, Deno.SeekMode.Start);
    return Promise.resolve(buf.subarray(0, got));
  }

  fsync(fd: number): Promise<void> {
    this.file(fd).syncSync();
    return Promise.resolve();
  }

  sync(): Promise<void> {
    for (const dir of this.dirty) {
      let d: Deno.FsFile;
      try {
        d = Deno.openSync(dir, { read: true });
      } catch (e) {
        // Removed since: its parent is in the set too.
        if (e instanceof Deno.errors.NotFound) continue;
        throw e;
      }
      try {
        d.syncSync();
      } finally {
        d.close();
      }
    }
    this.dirty.clear();
    for (const f of this.files.values()) f.syncSync();
    return Promise.resolve();
  }

  mkdir(path: string, mode = 0o755): Promise<void> {
    Deno.mkdirSync(this.host(path), { mode });
    this.touched(path);
    return Promise.resolve();
  }

  rmdir(path: string): Promise<void> {
    Deno.removeSync(this.host(path));
    this.touched(path);
    return Promise.resolve();
  }

  unlink(path: string): Promise<void> {
    Deno.removeSync(this.host(path));
    this.touched(path);
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    Deno.renameSync(this.host(from), this.host(to));
    this.touched(from);
    this.touched(to);
    return Promise.resolve();
  }

  stat(path: string): Promise<import("../../servers/fs/vfs.ts").FsStat> {
    const s = Deno.statSync(this.host(path));
    return Promise.resolve({
      ino: s.ino ?? 0,
      kind: s.isDirectory ? "dir" : s.isSymlink ? "symlink" : "file",
      size: s.size,
      nlink: s.nlink ?? 1,
      mode: (s.mode ?? 0) & 0o7777,
      blocks: s.blocks ?? 0,
      atimeMs: s.atime?.getTime() ?? 0,
      mtimeMs: s.mtime?.getTime() ?? 0,
      ctimeMs: s.ctime?.getTime() ?? 0,
    });
  }
}
