/**
 * An FsApi over a temporary host directory, for the shell's command tests
 * (the parts of FsApi the shell uses, with Deno's errors as FsErrno names).
 * Paths are the FsApi's absolute ones, taken under the root.
 *
 * @module
 */

import {
  type FsApi,
  type FsDirEntry,
  FsErrno,
  FsError,
  type FsSpace,
  type FsStat,
  OpenFlag,
  type Whence,
} from "../../../servers/fs/vfs.ts";

/** Deno's error as an FsError (its POSIX code), or the error itself. */
function mapped(e: unknown, what: string): unknown {
  const code = (e as { code?: string }).code;
  if (code !== undefined && code in FsErrno) {
    return new FsError(FsErrno[code as keyof typeof FsErrno], `${what}: ${(e as Error).message}`);
  }
  return e;
}

/** The FsApi over directory `root`. */
export class HostDirFs implements FsApi {
  private readonly fds = new Map<number, Deno.FsFile>();
  private nextFd = 3;
  /** File-system calls made (a test counts steps with it). */
  calls = 0;
  /** The `sync` calls made: the value of {@link calls} before each. */
  readonly syncs: number[] = [];

  constructor(readonly root: string) {}

  private p(path: string): string {
    if (!path.startsWith("/")) throw new FsError(FsErrno.EINVAL, `${path}: not absolute`);
    return this.root + path;
  }

  private wrap<T>(what: string, fn: () => T): Promise<T> {
    this.calls++;
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(mapped(e, what));
    }
  }

  private fd(fd: number): Deno.FsFile {
    const f = this.fds.get(fd);
    if (f === undefined) throw new FsError(FsErrno.EBADF, `fd ${fd}`);
    return f;
  }

  private static stat(i: Deno.FileInfo): FsStat {
    return {
      ino: i.ino ?? 0,
      kind: i.isDirectory ? "dir" : i.isSymlink ? "symlink" : "file",
      size: i.size,
      nlink: i.nlink ?? 1,
      mode: (i.mode ?? 0) & 0o7777,
      blocks: Math.ceil(i.size / 4096),
      atimeMs: i.atime?.getTime() ?? 0,
      mtimeMs: i.mtime?.getTime() ?? 0,
      ctimeMs: i.ctime?.getTime() ?? 0,
    };
  }

  open(path: string, flags: number, mode = 0o644): Promise<number> {
    return this.wrap(`open ${path}`, () => {
      const acc = flags & 3;
      const f = Deno.openSync(this.p(path), {
        read: acc !== OpenFlag.WRONLY,
        write: acc !== OpenFlag.RDONLY,
        create: (flags & OpenFlag.CREAT) !== 0,
        createNew: (flags & OpenFlag.EXCL) !== 0,
        truncate: (flags & OpenFlag.TRUNC) !== 0,
        mode,
      });
      const fd = this.nextFd++;
      this.fds.set(fd, f);
      return fd;
    });
  }
  close(fd: number): Promise<void> {
    return this.wrap("close", () => {
      this.fd(fd).close();
      this.fds.delete(fd);
    });
  }
  read(fd: number, length: number): Promise<Uint8Array> {
    return this.wrap("read", () => {
      const buf = new Uint8Array(length);
      const n = this.fd(fd).readSync(buf) ?? 0;
      return buf.slice(0, n);
    });
  }
  write(fd: number, data: Uint8Array): Promise<number> {
    return this.wrap("write", () => {
      const f = this.fd(fd);
      let at = 0;
      while (at < data.length) at += f.writeSync(data.subarray(at));
      return at;
    });
  }
  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    return this.wrap("pread", () => {
      const f = this.fd(fd);
      f.seekSync(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(length);
      let at = 0;
      while (at < length) {
        const n = f.readSync(buf.subarray(at));
        if (!n) break;
        at += n;
      }
      return buf.slice(0, at);
    });
  }
  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    return this.wrap("pwrite", () => {
      const f = this.fd(fd);
      f.seekSync(offset, Deno.SeekMode.Start);
      let at = 0;
      while (at < data.length) at += f.writeSync(data.subarray(at));
      return at;
    });
  }
  seek(fd: number, offset: number, whence: Whence): Promise<number> {
    return this.wrap("seek", () => this.fd(fd).seekSync(offset, whence as number));
  }
  ftruncate(fd: number, length: number): Promise<void> {
    return this.wrap("ftruncate", () => this.fd(fd).truncateSync(length));
  }
  fstat(fd: number): Promise<FsStat> {
    return this.wrap("fstat", () => HostDirFs.stat(this.fd(fd).statSync()));
  }
  fsync(fd: number): Promise<void> {
    return this.wrap("fsync", () => this.fd(fd).syncSync());
  }
  stat(path: string): Promise<FsStat> {
    return this.wrap(`stat ${path}`, () => HostDirFs.stat(Deno.statSync(this.p(path))));
  }
  lstat(path: string): Promise<FsStat> {
    return this.wrap(`lstat ${path}`, () => HostDirFs.stat(Deno.lstatSync(this.p(path))));
  }
  truncate(path: string, length: number): Promise<void> {
    return this.wrap(`truncate ${path}`, () => Deno.truncateSync(this.p(path), length));
  }
  readdir(path: string): Promise<FsDirEntry[]> {
    return this.wrap(`readdir ${path}`, () =>
      [...Deno.readDirSync(this.p(path))].map((e) => ({
        name: e.name,
        kind: e.isDirectory ? "dir" as const : e.isSymlink ? "symlink" as const : "file" as const,
        ino: 0,
      })));
  }
  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.wrap(`mkdir ${path}`, () => Deno.mkdirSync(this.p(path), { mode }));
  }
  rmdir(path: string): Promise<void> {
    return this.wrap(`rmdir ${path}`, () => {
      if (!Deno.lstatSync(this.p(path)).isDirectory) {
        throw new FsError(FsErrno.ENOTDIR, `rmdir ${path}: not a directory`);
      }
      Deno.removeSync(this.p(path));
    });
  }
  unlink(path: string): Promise<void> {
    return this.wrap(`unlink ${path}`, () => {
      if (Deno.lstatSync(this.p(path)).isDirectory) {
        throw new FsError(FsErrno.EISDIR, `unlink ${path}: is a directory`);
      }
      Deno.removeSync(this.p(path));
    });
  }
  rename(from: string, to: string): Promise<void> {
    return this.wrap(`rename ${from}`, () => Deno.renameSync(this.p(from), this.p(to)));
  }
  link(from: string, to: string): Promise<void> {
    return this.wrap(`link ${from}`, () => Deno.linkSync(this.p(from), this.p(to)));
  }
  symlink(target: string, path: string): Promise<void> {
    return this.wrap(`symlink ${path}`, () => Deno.symlinkSync(target, this.p(path)));
  }
  readlink(path: string): Promise<string> {
    return this.wrap(`readlink ${path}`, () => Deno.readLinkSync(this.p(path)));
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.wrap(`chmod ${path}`, () => Deno.chmodSync(this.p(path), mode));
  }
  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.wrap(
      `utimes ${path}`,
      () => Deno.utimeSync(this.p(path), atimeMs / 1000, mtimeMs / 1000),
    );
  }
  space(): Promise<FsSpace> {
    return this.wrap("space", () => ({
      totalBlocks: 1000,
      freeBlocks: 900,
      inodes: 10,
      metadataBytes: 4096,
      metadataCapacity: 65536,
    }));
  }
  sync(): Promise<void> {
    this.syncs.push(this.calls);
    return this.wrap("sync", () => {});
  }
}
