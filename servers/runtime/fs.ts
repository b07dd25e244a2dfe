/**
 * The file system for programs: {@link FsClient}, the {@link FsApi} over
 * a connection to the FS server (protocol: servers/fs/protocol.ts).
 *
 * `await FsClient.connect(ctx)` connects through the capability named "fs"
 * (a lasting connection, re-attached after a resume or restart), creates a
 * bulk buffer (a lasting PMO of FS_BUFFER_PAGES pages), grants it to the
 * server once, and waits until the server has mapped it. Data of any
 * length is split into buffer-sized calls; a few hundred bytes travel in
 * the message itself. `new FsClient(conn)` without a buffer works too,
 * with every call's data in messages (slower, paths up to a message).
 *
 * Calls of one client run one at a time, in the order made (they share
 * the buffer). `fsync` and `sync` resolve once a checkpoint cut after the
 * call has committed (kernel call `checkpoint_wait`: the worker parks
 * while it waits, so a step may await them).
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX, PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { Right } from "../../kernel/abi/rights.ts";
import { PayloadReader } from "../../kernel/abi/payload.ts";
import {
  decodeDirEntries,
  decodeNumber,
  decodeSpace,
  decodeStat,
  encodeFsRequest,
  FS_AT_INLINE,
  FS_BUFFER_PAGES,
  FS_INDIRECT,
  FS_INLINE_BYTES_MAX,
  type FsField,
  FsLabel,
} from "../fs/protocol.ts";
import {
  type FsApi,
  type FsDirEntry,
  FsErrno,
  FsError,
  type FsSpace,
  type FsStat,
  OpenFlag,
  type Whence,
} from "../fs/vfs.ts";
import { type ClientConnection, unwrap } from "./ipc.ts";
import type { Context } from "./program.ts";
import { lastingConnection, lastingPmo } from "./service.ts";
import type { Sys } from "./sys.ts";

/** Bytes at the start of the buffer for requests too long for a message (long paths). */
const REQUEST_AREA_BYTES = 16 * 1024;
/** Tries of ATTACH while the server maps the buffer (each after a millisecond). */
const ATTACH_TRIES_MAX = 5000;
/** Entries a READDIR asks for at most. */
const READDIR_MAX = 4096;
/** Name in the slot record of the server's slot for this program's buffer. */
const SERVER_SLOT_NAME = "fs:buffer-served";
/** Name in the slot record of the buffer slot that was granted (to see a new buffer). */
const GRANTED_SLOT_NAME = "fs:buffer-granted";
/** The lasting PMO name of the buffer. */
const BUFFER_NAME = "fs-buffer";

/** The file system over IPC, for one program (see the module doc). */
export class FsClient implements FsApi {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly dataAt: number;
  private readonly dataBytes: number;

  /**
   * @param conn a connection to the FS server
   * @param buffer the bulk buffer the server has mapped for `conn` (none: data inline)
   * @param sys the program's system calls (for `fsync` and `sync`)
   */
  constructor(
    readonly conn: ClientConnection,
    private readonly buffer?: PersistentMemory,
    private readonly sys?: Sys,
  ) {
    this.dataAt = buffer ? REQUEST_AREA_BYTES : 0;
    this.dataBytes = buffer ? buffer.byteLength - REQUEST_AREA_BYTES : FS_INLINE_BYTES_MAX;
  }

  /**
   * Connects through the capability named "fs" with a bulk buffer (both
   * kept across a resume or restart). Call it in `main`.
   */
  static async connect(ctx: Context): Promise<FsClient> {
    const conn = await lastingConnection(ctx, "fs");
    const buffer = await lastingPmo(ctx, BUFFER_NAME, FS_BUFFER_PAGES);
    const pmoSlot = ctx.names.get(`pmo:${BUFFER_NAME}`)!;
    let served = ctx.names.get(SERVER_SLOT_NAME);
    if (served === undefined || ctx.names.get(GRANTED_SLOT_NAME) !== pmoSlot) {
      served = await ctx.sys.capTransfer(conn.slot, pmoSlot, Right.READ | Right.WRITE);
      ctx.names.remember(SERVER_SLOT_NAME, served);
      ctx.names.remember(GRANTED_SLOT_NAME, pmoSlot);
    }
    const client = new FsClient(conn, buffer, ctx.sys);
    await client.attach(served);
    return client;
  }

  /** ATTACH until the server has mapped the buffer it got as `slot`. */
  private async attach(slot: number): Promise<void> {
    for (let i = 0;; i++) {
      const reply = await this.conn.call(FsLabel.ATTACH, encodeFsRequest([slot]));
      if (reply.status === Err.OK) return;
      if (reply.status !== Err.E_WOULD_BLOCK || i >= ATTACH_TRIES_MAX) {
        unwrap(reply, "fs attach");
        throw new TardigradeError(Err.E_TIMEOUT, `fs attach: slot ${slot} was never mapped`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Runs `fn` after every call made before it (they share the buffer). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /** One request; a FsError for E_FS replies. Long requests go through the buffer. */
  private async call(label: FsLabel, fields: FsField[], tail?: Uint8Array): Promise<Uint8Array> {
    const what = `fs ${FsLabel[label].toLowerCase()}`;
    let payload: Uint8Array;
    let sent: number = label;
    try {
      payload = encodeFsRequest(fields, tail);
    } catch {
      if (!this.buffer) throw new FsError(FsErrno.ENAMETOOLONG, `${what}: request too long`);
      let full: Uint8Array;
      try {
        full = encodeFsRequest(fields, tail, REQUEST_AREA_BYTES);
      } catch {
        throw new FsError(FsErrno.ENAMETOOLONG, `${what}: paths too long`);
      }
      this.buffer.write(0, full);
      payload = encodeFsRequest([full.length]);
      sent = label | FS_INDIRECT;
    }
    try {
      return unwrap(await this.conn.call(sent, payload), what);
    } catch (e) {
      throw FsError.from(e) ?? e;
    }
  }

  private async number(label: FsLabel, fields: FsField[], tail?: Uint8Array): Promise<number> {
    return decodeNumber(await this.call(label, fields, tail), `fs ${FsLabel[label]} reply`);
  }

  private async empty(label: FsLabel, fields: FsField[]): Promise<void> {
    await this.call(label, fields);
  }

  /** Bytes one data call moves: through the buffer, or inline. */
  private chunk(): number {
    return this.dataBytes;
  }

  open(path: string, flags: number, mode = 0o644): Promise<number> {
    return this.serial(() => this.number(FsLabel.OPEN, [flags, mode, path]));
  }
  close(fd: number): Promise<void> {
    return this.serial(() => this.empty(FsLabel.CLOSE, [fd]));
  }

  /** Reads into pieces of one call each until `length` or a short piece. */
  private async readPieces(
    length: number,
    one: (want: number, at: number) => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let got = 0;
    do {
      const want = Math.min(this.chunk(), length - got);
      const inline = !this.buffer || want <= FS_INLINE_BYTES_MAX;
      const piece = await one(want, inline ? FS_AT_INLINE : this.dataAt);
      parts.push(piece);
      got += piece.length;
      if (piece.length < want) break;
    } while (got < length);
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(got);
    let at = 0;
    for (const p of parts) out.set(p, at), at += p.length;
    return out;
  }

  /** One READ or PREAD's answer: inline bytes, or a count of bytes in the buffer. */
  private readReply(reply: Uint8Array, at: number): Uint8Array {
    if (at === FS_AT_INLINE) return reply.slice();
    const n = decodeNumber(reply, "fs read reply");
    return this.buffer!.read(at, n).slice();
  }

  read(fd: number, length: number): Promise<Uint8Array> {
    return this.serial(() =>
      this.readPieces(
        length,
        async (want, at) => this.readReply(await this.call(FsLabel.READ, [fd, want, at]), at),
      )
    );
  }

  pread(fd: number, offset: number, length: number): Promise<Uint8Array> {
    let off = offset;
    return this.serial(() =>
      this.readPieces(length, async (want, at) => {
        const piece = this.readReply(await this.call(FsLabel.PREAD, [fd, off, want, at]), at);
        off += piece.length;
        return piece;
      })
    );
  }

  /**
   * Writes `data` in pieces of one call each; a piece written short ends
   * it. An error after some bytes were written returns their count (a short
   * write, as POSIX has it); before any, it throws.
   */
  private async writePieces(
    data: Uint8Array,
    one: (piece: Uint8Array, done: number) => Promise<number>,
  ): Promise<number> {
    let done = 0;
    do {
      const piece = data.subarray(done, done + this.chunk());
      let n: number;
      try {
        n = await one(piece, done);
      } catch (e) {
        if (done > 0 && FsError.from(e)) return done;
        throw e;
      }
      done += n;
      if (n < piece.length) break;
    } while (done < data.length);
    return done;
  }

  /** A WRITE or PWRITE's fields after the offset: `at`, the length, and the inline bytes. */
  private dataFields(piece: Uint8Array): { at: number; tail?: Uint8Array } {
    if (!this.buffer || piece.length <= FS_INLINE_BYTES_MAX) {
      return { at: FS_AT_INLINE, tail: piece };
    }
    this.buffer.write(this.dataAt, piece);
    return { at: this.dataAt };
  }

  write(fd: number, data: Uint8Array): Promise<number> {
    return this.serial(() =>
      this.writePieces(data, (piece) => {
        const { at, tail } = this.dataFields(piece);
        return this.number(FsLabel.WRITE, [fd, at, piece.length], tail);
      })
    );
  }

  pwrite(fd: number, offset: number, data: Uint8Array): Promise<number> {
    return this.serial(() =>
      this.writePieces(data, (piece, done) => {
        const { at, tail } = this.dataFields(piece);
        return this.number(FsLabel.PWRITE, [fd, offset + done, at, piece.length], tail);
      })
    );
  }

  seek(fd: number, offset: number, whence: Whence): Promise<number> {
    return this.serial(() => this.number(FsLabel.SEEK, [fd, offset, whence]));
  }
  ftruncate(fd: number, length: number): Promise<void> {
    return this.serial(() => this.empty(FsLabel.FTRUNCATE, [fd, length]));
  }
  fstat(fd: number): Promise<FsStat> {
    return this.serial(async () => decodeStat(await this.call(FsLabel.FSTAT, [fd])));
  }
  /** Checks the descriptor, then resolves once a checkpoint after the call has committed. */
  async fsync(fd: number): Promise<void> {
    await this.serial(() => this.empty(FsLabel.FSYNC, [fd]));
    await this.checkpointWait("fsync");
  }
  stat(path: string): Promise<FsStat> {
    return this.serial(async () => decodeStat(await this.call(FsLabel.STAT, [path])));
  }
  lstat(path: string): Promise<FsStat> {
    return this.serial(async () => decodeStat(await this.call(FsLabel.LSTAT, [path])));
  }
  truncate(path: string, length: number): Promise<void> {
    return this.serial(() => this.empty(FsLabel.TRUNCATE, [length, path]));
  }

  /** Every entry of the directory, page by page (through the buffer when there is one). */
  readdir(path: string): Promise<FsDirEntry[]> {
    return this.serial(async () => {
      const out: FsDirEntry[] = [];
      let cursor = 0;
      do {
        const at = this.buffer ? this.dataAt : FS_AT_INLINE;
        const capacity = this.buffer ? this.dataBytes : 0;
        const reply = await this.call(FsLabel.READDIR, [cursor, READDIR_MAX, at, capacity, path]);
        const r = new PayloadReader(reply, "fs READDIR reply");
        cursor = r.f64();
        const count = r.f64(), bytes = r.f64();
        const entries = at === FS_AT_INLINE ? r.rest() : this.buffer!.read(at, bytes);
        out.push(...decodeDirEntries(entries, count));
      } while (cursor !== 0);
      return out;
    });
  }

  mkdir(path: string, mode = 0o755): Promise<void> {
    return this.serial(() => this.empty(FsLabel.MKDIR, [mode, path]));
  }
  rmdir(path: string): Promise<void> {
    return this.serial(() => this.empty(FsLabel.RMDIR, [path]));
  }
  unlink(path: string): Promise<void> {
    return this.serial(() => this.empty(FsLabel.UNLINK, [path]));
  }
  rename(from: string, to: string): Promise<void> {
    return this.serial(() => this.empty(FsLabel.RENAME, [from, to]));
  }
  link(from: string, to: string): Promise<void> {
    return this.serial(() => this.empty(FsLabel.LINK, [from, to]));
  }
  symlink(target: string, path: string): Promise<void> {
    return this.serial(() => this.empty(FsLabel.SYMLINK, [target, path]));
  }
  readlink(path: string): Promise<string> {
    return this.serial(async () =>
      new PayloadReader(await this.call(FsLabel.READLINK, [path]), "fs READLINK reply").restText()
    );
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.serial(() => this.empty(FsLabel.CHMOD, [mode, path]));
  }
  utimes(path: string, atimeMs: number, mtimeMs: number): Promise<void> {
    return this.serial(() => this.empty(FsLabel.UTIMES, [atimeMs, mtimeMs, path]));
  }
  space(): Promise<FsSpace> {
    return this.serial(async () => decodeSpace(await this.call(FsLabel.SPACE, [])));
  }

  /** Resolves once every call made before it is in a committed checkpoint. */
  async sync(): Promise<void> {
    await this.serial(() => Promise.resolve());
    await this.checkpointWait("sync");
  }

  private async checkpointWait(what: string): Promise<void> {
    if (!this.sys) {
      throw new TardigradeError(
        Err.E_NOT_SUPPORTED,
        `fs ${what}: this FsClient has no system calls; make it with FsClient.connect(ctx)`,
      );
    }
    await this.sys.checkpointWait();
  }

  /** Writes a whole file (created or truncated): a convenience for programs and tests. */
  async writeFile(path: string, data: Uint8Array, mode = 0o644): Promise<void> {
    const fd = await this.open(path, OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.TRUNC, mode);
    try {
      const n = await this.write(fd, data);
      if (n !== data.length) throw new FsError(FsErrno.ENOSPC, `${path}: ${n} of ${data.length}`);
    } finally {
      await this.close(fd);
    }
  }

  /** Reads a whole file. */
  async readFile(path: string): Promise<Uint8Array> {
    const fd = await this.open(path, OpenFlag.RDONLY);
    try {
      const { size } = await this.fstat(fd);
      return await this.read(fd, size);
    } finally {
      await this.close(fd);
    }
  }
}

assert(
  REQUEST_AREA_BYTES >= MESSAGE_PAYLOAD_BYTES_MAX &&
    REQUEST_AREA_BYTES < FS_BUFFER_PAGES * PAGE_BYTES,
  "fs client",
  "the request area is at least a message and leaves the buffer room for data",
);
