/**
 * The FS server: one tree (the storage, servers/fs/store/) served over IPC
 * (protocol: servers/fs/protocol.ts). It answers STATUS and ECHO like every
 * server and one label per file-system operation.
 *
 * Map of this file: start-up (the storage's PMOs, the bulk buffers kept
 * from before), {@link FsServer} (decode, then invoke the storage), the
 * buffer table, the connection hooks.
 *
 * ## Storage
 *
 * At its first start the server creates the metadata PMO (`metaPages`,
 * or `fsMetaPagesFor` of the data pages) and the data segments (`dataPages`
 * from its start arguments, in PMOs of at most PMO_PAGES_MAX pages) as
 * lasting PMOs, so a restart or a resume maps the same ones and the
 * storage opens the tree they hold. The storage writes through the write
 * barrier inside each handler: what a reply reports is in the next cut.
 *
 * ## Connections, descriptors and buffers
 *
 * A descriptor's owner is the connection it was opened through; a
 * client's quota and charges go by the badge of its capability (init gives
 * each component its own). A client grants a buffer PMO through its
 * connection (cap_transfer); the server records (connection, slot) in its
 * buffer table, a lasting PMO, and maps it, so a restart or a resume maps
 * every buffer again before it serves. When a connection closes for good
 * (its client died for good, or its capability was revoked) the server
 * closes its descriptors and forgets its buffer; a client that only
 * restarts keeps both. The kernel tells it again of every such close each
 * time it serves (start, restart, resume), so {@link FsServer.onClosed}
 * is idempotent.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { PayloadReader } from "../../kernel/abi/payload.ts";
import type { Request } from "../runtime/ipc.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { lastingPmo, serveService } from "../runtime/service.ts";
import { type FsArgs, fsArgs, fsMetaPages, fsSegments } from "../init/config.ts";
import { openFsStore } from "./store/mod.ts";
import {
  encodeDirEntries,
  encodeDirHeader,
  encodeNumber,
  encodeSpace,
  encodeStat,
  FS_AT_INLINE,
  FS_DIRENT_BYTES_MAX,
  FS_INDIRECT,
  FS_INLINE_BYTES_MAX,
  FsLabel,
  FsRequestReader,
} from "./protocol.ts";
import { type FileSystem, FsErrno, FsError } from "./vfs.ts";

const encoder = new TextEncoder();

/** Buffer table: one page of (connection id u32, slot u32) entries; connection 0 is free. */
const BUFFER_TABLE_PAGES = 1;
const BUFFER_ENTRY_BYTES = 8;

/** The connections' buffer slots, kept in a lasting PMO. */
class BufferTable {
  constructor(private readonly mem: PersistentMemory) {}

  private get entries(): number {
    return Math.floor(this.mem.byteLength / BUFFER_ENTRY_BYTES);
  }

  /** Every (connection, slot) kept. */
  all(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.entries; i++) {
      const conn = this.mem.getU32(i * BUFFER_ENTRY_BYTES);
      if (conn !== 0) out.push([conn, this.mem.getU32(i * BUFFER_ENTRY_BYTES + 4)]);
    }
    return out;
  }

  /** The slot kept for `conn`, if any. */
  slotOf(conn: number): number | undefined {
    return this.all().find(([c]) => c === conn)?.[1];
  }

  /** Keeps `slot` for `conn` (replacing one kept before); E_LIMIT when the table is full. */
  set(conn: number, slot: number): void {
    let free = -1;
    for (let i = 0; i < this.entries; i++) {
      const c = this.mem.getU32(i * BUFFER_ENTRY_BYTES);
      if (c === conn) return this.mem.setU32(i * BUFFER_ENTRY_BYTES + 4, slot);
      if (c === 0 && free < 0) free = i;
    }
    if (free < 0) {
      throw new TardigradeError(Err.E_LIMIT, `fs: the buffer table holds ${this.entries} buffers`);
    }
    this.mem.setU32(free * BUFFER_ENTRY_BYTES + 4, slot);
    this.mem.setU32(free * BUFFER_ENTRY_BYTES, conn);
  }

  /** Forgets `conn`'s buffer. */
  delete(conn: number): void {
    for (let i = 0; i < this.entries; i++) {
      if (this.mem.getU32(i * BUFFER_ENTRY_BYTES) === conn) {
        this.mem.setU32(i * BUFFER_ENTRY_BYTES, 0);
      }
    }
  }
}

function einval(what: string): never {
  throw new FsError(FsErrno.EINVAL, what);
}

/** The server: requests decoded, then the storage invoked. */
class FsServer {
  /** Mapped buffers by connection. */
  private readonly buffers = new Map<number, PersistentMemory>();
  /** Connections whose buffer is being mapped. */
  private readonly mapping = new Set<number>();
  /** Badges whose quota this worker has set. */
  private readonly quotaSet = new Set<number>();

  constructor(
    private readonly ctx: Context,
    private readonly fs: FileSystem,
    private readonly table: BufferTable,
    private readonly clientBlocks: number,
  ) {}

  /** Maps every buffer the table keeps (start-up, before serving). */
  async remapAll(): Promise<void> {
    for (const [conn, slot] of this.table.all()) {
      try {
        this.buffers.set(conn, await this.ctx.map(slot));
      } catch (e) {
        this.ctx.log(`fs: buffer of connection ${conn} (slot ${slot}) is gone: ${String(e)}`);
        this.table.delete(conn);
      }
    }
  }

  /** A capability came through connection `conn`: its buffer. */
  onCapability(slot: number, conn: number): void {
    const old = this.table.slotOf(conn);
    try {
      this.table.set(conn, slot);
    } catch (e) {
      this.ctx.log(String(e));
      return;
    }
    this.buffers.delete(conn);
    if (old !== undefined && old !== slot) this.ctx.sys.capDelete(old).catch(() => {});
    this.startMap(conn, slot);
  }

  private startMap(conn: number, slot: number): void {
    if (this.mapping.has(conn)) return;
    this.mapping.add(conn);
    this.ctx.map(slot).then((mem) => {
      if (this.table.slotOf(conn) === slot) this.buffers.set(conn, mem);
    }).catch((e) => {
      this.ctx.log(`fs: cannot map the buffer of connection ${conn}: ${String(e)}`);
    }).finally(() => this.mapping.delete(conn));
  }

  /** A connection closed: for good, its descriptors and buffer go (again: nothing happens). */
  onClosed(conn: number, restarting: boolean): void {
    if (restarting) return;
    const n = this.fs.closeAll(conn);
    const slot = this.table.slotOf(conn);
    this.table.delete(conn);
    this.buffers.delete(conn);
    if (slot !== undefined) this.ctx.sys.capDelete(slot).catch(() => {});
    if (n > 0) this.ctx.log(`fs: connection ${conn} closed: ${n} descriptors closed`);
  }

  private buffer(conn: number): PersistentMemory {
    const b = this.buffers.get(conn);
    if (!b) einval(`connection ${conn} has no buffer attached (FsClient.connect grants one)`);
    return b;
  }

  /** The range [at, at + length) of the connection's buffer, checked. */
  private range(conn: number, at: number, length: number): PersistentMemory {
    const b = this.buffer(conn);
    if (at + length > b.byteLength) {
      einval(`buffer range [${at}, ${at + length}) is past its ${b.byteLength} bytes`);
    }
    return b;
  }

  /** One request: STATUS and ECHO aside, every label of protocol.ts. */
  handle(req: Request): Uint8Array | void {
    let label = req.label, payload = req.payload;
    if (label & FS_INDIRECT) {
      label &= ~FS_INDIRECT;
      const r = new PayloadReader(payload, "fs indirect request");
      const n = r.f64();
      r.end();
      if (!Number.isSafeInteger(n) || n < 0) einval(`indirect request of ${n} bytes`);
      payload = this.range(req.connId, 0, n).read(0, n).slice();
    }
    if (this.clientBlocks > 0 && !this.quotaSet.has(req.badge)) {
      this.fs.setQuota(req.badge, this.clientBlocks);
      this.quotaSet.add(req.badge);
    }
    const what = `fs ${FsLabel[label] ?? label}`;
    const r = new FsRequestReader(payload, what);
    const out = this.invoke(label, r, req);
    return out;
  }

  private invoke(label: number, r: FsRequestReader, req: Request): Uint8Array | void {
    const fs = this.fs, owner = req.connId;
    switch (label) {
      case FsLabel.OPEN: {
        const flags = r.bits("flags"), mode = r.bits("mode");
        return encodeNumber(fs.open(owner, req.badge, r.restText(), flags, mode));
      }
      case FsLabel.CLOSE:
        return this.done(r, () => fs.close(owner, r.fd()));
      case FsLabel.READ: {
        const fd = r.fd(), length = r.count("length"), at = r.at();
        r.end();
        return this.readOut(owner, at, length, () => fs.read(owner, fd, length));
      }
      case FsLabel.PREAD: {
        const fd = r.fd(), offset = r.count("offset"), length = r.count("length"), at = r.at();
        r.end();
        return this.readOut(owner, at, length, () => fs.pread(owner, fd, offset, length));
      }
      case FsLabel.WRITE: {
        const fd = r.fd(), data = this.dataIn(owner, r);
        return encodeNumber(fs.write(owner, fd, data));
      }
      case FsLabel.PWRITE: {
        const fd = r.fd(), offset = r.count("offset"), data = this.dataIn(owner, r);
        return encodeNumber(fs.pwrite(owner, fd, offset, data));
      }
      case FsLabel.SEEK: {
        const fd = r.fd(), offset = r.offset(), whence = r.bits("whence");
        r.end();
        return encodeNumber(fs.seek(owner, fd, offset, whence));
      }
      case FsLabel.FTRUNCATE: {
        const fd = r.fd(), length = r.count("length");
        return this.done(r, () => fs.ftruncate(owner, fd, length));
      }
      case FsLabel.FSTAT: {
        const fd = r.fd();
        r.end();
        return encodeStat(fs.fstat(owner, fd));
      }
      case FsLabel.FSYNC:
        return this.done(r, () => fs.fsync(owner, r.fd()));
      default:
        return this.invokeName(label, r, req);
    }
  }

  private invokeName(label: number, r: FsRequestReader, req: Request): Uint8Array | void {
    const fs = this.fs;
    switch (label) {
      case FsLabel.STAT:
        return encodeStat(fs.stat(r.restText()));
      case FsLabel.LSTAT:
        return encodeStat(fs.lstat(r.restText()));
      case FsLabel.TRUNCATE: {
        const length = r.count("length");
        return fs.truncate(r.restText(), length);
      }
      case FsLabel.READDIR:
        return this.readdir(r, req.connId);
      case FsLabel.MKDIR: {
        const mode = r.bits("mode");
        return fs.mkdir(r.restText(), mode);
      }
      case FsLabel.RMDIR:
        return fs.rmdir(r.restText());
      case FsLabel.UNLINK:
        return fs.unlink(r.restText());
      case FsLabel.RENAME: {
        const from = r.text();
        return fs.rename(from, r.restText());
      }
      case FsLabel.LINK: {
        const from = r.text();
        return fs.link(from, r.restText());
      }
      case FsLabel.SYMLINK: {
        const target = r.text();
        return fs.symlink(target, r.restText());
      }
      case FsLabel.READLINK:
        return encoder.encode(fs.readlink(r.restText()));
      case FsLabel.CHMOD: {
        const mode = r.bits("mode");
        return fs.chmod(r.restText(), mode);
      }
      case FsLabel.UTIMES: {
        const atime = r.time(), mtime = r.time();
        return fs.utimes(r.restText(), atime, mtime);
      }
      case FsLabel.SPACE:
        r.end();
        return encodeSpace(fs.space());
      case FsLabel.ATTACH:
        return this.attach(r, req.connId);
      default:
        throw new TardigradeError(
          Err.E_NOT_SUPPORTED,
          `fs: no operation with label ${req.label} (servers/fs/protocol.ts FsLabel)`,
          { label: req.label },
        );
    }
  }

  /** Checks the request ends, then runs `fn` (an empty reply). */
  private done(r: FsRequestReader, fn: () => void): void {
    fn();
    r.end();
  }

  /** WRITE and PWRITE's data: `at`, `length`, then the bytes inline or a buffer range. */
  private dataIn(conn: number, r: FsRequestReader): Uint8Array {
    const at = r.at(), length = r.count("length");
    if (at === FS_AT_INLINE) {
      const data = r.rest();
      if (data.length !== length) {
        throw new TardigradeError(
          Err.E_BAD_MESSAGE,
          `${r.what}: ${data.length} inline bytes, the request says ${length}`,
        );
      }
      return data;
    }
    r.end();
    return this.range(conn, at, length).read(at, length);
  }

  /** READ and PREAD's answer: the bytes inline, or into the buffer and the count. */
  private readOut(conn: number, at: number, length: number, read: () => Uint8Array): Uint8Array {
    if (at === FS_AT_INLINE) {
      if (length > FS_INLINE_BYTES_MAX) {
        einval(`an inline read is at most ${FS_INLINE_BYTES_MAX} bytes, not ${length}`);
      }
      return read();
    }
    const b = this.range(conn, at, length);
    const data = read();
    b.write(at, data);
    return encodeNumber(data.length);
  }

  private readdir(r: FsRequestReader, conn: number): Uint8Array {
    const cursor = r.count("cursor"), max = r.count("max");
    const at = r.at(), capacity = r.count("capacity");
    const path = r.restText();
    const room = at === FS_AT_INLINE ? FS_INLINE_BYTES_MAX - 24 : capacity;
    if (at !== FS_AT_INLINE) this.range(conn, at, capacity);
    const fit = Math.floor(room / FS_DIRENT_BYTES_MAX);
    if (fit < 1) einval(`a READDIR capacity of ${capacity} bytes holds no entry`);
    const page = this.fs.readdir(path, cursor, Math.max(1, Math.min(max, fit)));
    const entries = encodeDirEntries(page.entries);
    const header = encodeDirHeader(page, entries.length);
    if (at !== FS_AT_INLINE) {
      this.buffer(conn).write(at, entries);
      return header;
    }
    const out = new Uint8Array(header.length + entries.length);
    out.set(header);
    out.set(entries, header.length);
    return out;
  }

  /** ATTACH: OK once the connection's buffer (granted as `slot`) is mapped. */
  private attach(r: FsRequestReader, conn: number): void {
    const slot = r.number();
    r.end();
    if (this.buffers.has(conn) && this.table.slotOf(conn) === slot) return;
    if (this.table.slotOf(conn) === slot) this.startMap(conn, slot);
    throw new TardigradeError(
      Err.E_WOULD_BLOCK,
      `fs: the buffer in slot ${slot} of connection ${conn} is not mapped yet; ATTACH again`,
    );
  }
}

/** Creates (first start) or maps again the storage's PMOs, and opens the tree. */
async function openStorage(ctx: Context, args: FsArgs) {
  const { segments: count, segmentPages } = fsSegments(args.dataPages);
  const dataPages = count * segmentPages;
  const meta = await lastingPmo(ctx, "fs-meta", fsMetaPages(args));
  const segments: PersistentMemory[] = [];
  for (let i = 0; i < count; i++) {
    segments.push(await lastingPmo(ctx, `fs-data-${i}`, segmentPages));
  }
  return { ...openFsStore(meta, segments, () => Date.now()), dataPages };
}

runProgram(async (ctx) => {
  const args = fsArgs(ctx.args);
  const { fs, fresh, dataPages } = await openStorage(ctx, args);
  const table = new BufferTable(await lastingPmo(ctx, "fs-buffers", BUFFER_TABLE_PAGES));
  const server = new FsServer(ctx, fs, table, args.clientBlocks);
  await server.remapAll();
  ctx.onCapability((slot, _badge, connId) => server.onCapability(slot, connId));
  ctx.onConnectionClosed((connId, restarting) => server.onClosed(connId, restarting));
  await serveService(ctx, "fs", (req) => server.handle(req));
  ctx.log(
    `fs: ${fresh ? "formatted" : "opened"} ${dataPages} data pages` +
      (ctx.resumed ? " (resumed)" : ""),
  );
});
