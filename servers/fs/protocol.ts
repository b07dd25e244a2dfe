/**
 * The FS server's protocol: one label per {@link FileSystem} operation
 * (from 16 on, beside Label.STATUS and Label.ECHO), their binary encodings
 * (little-endian, kernel/abi/payload.ts; every number a client picks
 * travels as f64 and the server checks it), and the records they answer.
 * servers/fs/main.ts serves it; servers/runtime/fs.ts `FsClient` speaks it.
 *
 * | label     | request                                        | reply |
 * |-----------|------------------------------------------------|-------|
 * | OPEN      | flags, mode, path                              | fd |
 * | CLOSE     | fd                                             | empty |
 * | READ      | fd, length, at                                 | the bytes (at = -1) or count |
 * | WRITE     | fd, at, length, the bytes when at = -1         | count |
 * | PREAD     | fd, offset, length, at                         | as READ |
 * | PWRITE    | fd, offset, at, length, the bytes when at = -1 | count |
 * | SEEK      | fd, offset, whence                             | new offset |
 * | FTRUNCATE | fd, length                                     | empty |
 * | FSTAT     | fd                                             | stat |
 * | FSYNC     | fd                                             | empty |
 * | STAT      | path                                           | stat |
 * | LSTAT     | path                                           | stat |
 * | TRUNCATE  | length, path                                   | empty |
 * | READDIR   | cursor, max, at, capacity, path                | cursor, count, bytes; entries |
 * | MKDIR     | mode, path                                     | empty |
 * | RMDIR     | path                                           | empty |
 * | UNLINK    | path                                           | empty |
 * | RENAME    | from length, from, to                          | empty |
 * | LINK      | from length, from, to                          | empty |
 * | SYMLINK   | target length, target, path                    | empty |
 * | READLINK  | path                                           | target (UTF-8) |
 * | CHMOD     | mode, path                                     | empty |
 * | UTIMES    | atime ms, mtime ms, path                       | empty |
 * | SPACE     | empty                                          | total, free, inodes, metadata bytes, capacity |
 * | ATTACH    | slot                                           | empty (E_WOULD_BLOCK: not mapped yet) |
 *
 * Numbers are f64; a path or name is UTF-8, the rest of the payload (the
 * first of two carries its length before it). A stat is nine f64: ino,
 * kind (0 file, 1 directory, 2 symlink), size, nlink, mode, blocks, atime,
 * mtime, ctime. A directory entry is u8 kind, f64 ino, u8 name length, name.
 *
 * ## The bulk buffer
 *
 * A connection's client grants the server a buffer PMO at connect
 * (cap_transfer, then ATTACH with the slot the server got, repeated while
 * the server maps it). Data then moves through it, not through messages:
 * `at` >= 0 names the range [at, at + length) of the buffer that READ and
 * PREAD fill (the reply is the count) and WRITE and PWRITE take; READDIR's
 * entries go to [at, at + capacity). `at` = -1 carries the bytes in the
 * message instead, up to {@link FS_INLINE_BYTES_MAX}. A request too long
 * for a message (long paths) is written to the buffer at 0 and sent with
 * label | {@link FS_INDIRECT}, its payload the f64 length.
 *
 * ## Errors
 *
 * A file-system error is the reply status E_FS with the POSIX name first
 * in the message (vfs.ts {@link FsError}; `FsError.from` reads it back); a
 * bad descriptor number (negative, fractional, huge) is EBADF, a bad count
 * or a buffer range outside the buffer EINVAL. A payload that does not
 * decode is E_BAD_MESSAGE, an unknown label E_NOT_SUPPORTED.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../kernel/abi/limits.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import {
  type FsDirEntry,
  type FsDirPage,
  FsErrno,
  FsError,
  type FsKind,
  type FsSpace,
  type FsStat,
  NAME_BYTES_MAX,
} from "./vfs.ts";

/** Labels of the FS server's operations. */
export enum FsLabel {
  OPEN = 16,
  CLOSE = 17,
  READ = 18,
  WRITE = 19,
  PREAD = 20,
  PWRITE = 21,
  SEEK = 22,
  FTRUNCATE = 23,
  FSTAT = 24,
  FSYNC = 25,
  STAT = 26,
  LSTAT = 27,
  TRUNCATE = 28,
  READDIR = 29,
  MKDIR = 30,
  RMDIR = 31,
  UNLINK = 32,
  RENAME = 33,
  LINK = 34,
  SYMLINK = 35,
  READLINK = 36,
  CHMOD = 37,
  UTIMES = 38,
  SPACE = 39,
  ATTACH = 40,
}

/** Label bit: the request is in the bulk buffer at 0; the message holds its f64 length. */
export const FS_INDIRECT = 0x100;
/** `at` of a request whose data travels in the message. */
export const FS_AT_INLINE = -1;
/** Most data bytes one message carries (a PWRITE's four numbers leave this much room). */
export const FS_INLINE_BYTES_MAX = MESSAGE_PAYLOAD_BYTES_MAX - 4 * 8;
/** Pages of the bulk buffer a client grants (256 KiB). */
export const FS_BUFFER_PAGES = 64;
/** Bytes of a stat record. */
export const FS_STAT_BYTES = 9 * 8;
/** Most bytes one directory entry takes in a READDIR answer. */
export const FS_DIRENT_BYTES_MAX = 1 + 8 + 1 + NAME_BYTES_MAX;

const encoder = new TextEncoder();
const KINDS: FsKind[] = ["file", "dir", "symlink"];

/** A request's fields in order: numbers and texts. */
export type FsField = number | string;

/**
 * Encodes a request: each number an f64; the last text the rest of the
 * payload, a text before it preceded by its f64 length. `tail` (inline
 * data) goes after everything. `capacity` is the most it may take.
 */
export function encodeFsRequest(
  fields: FsField[],
  tail?: Uint8Array,
  capacity = MESSAGE_PAYLOAD_BYTES_MAX,
): Uint8Array {
  const texts = fields.filter((f) => typeof f === "string").length;
  const parts: Array<number | Uint8Array> = [];
  let n = tail?.length ?? 0, seen = 0;
  for (const f of fields) {
    if (typeof f === "number") {
      parts.push(f);
      n += 8;
      continue;
    }
    const b = encoder.encode(f);
    if (++seen < texts) parts.push(b.length), n += 8;
    parts.push(b);
    n += b.length;
  }
  if (n > capacity) {
    throw new TardigradeError(Err.E_BAD_ARGUMENT, `fs request of ${n} bytes is over ${capacity}`);
  }
  const w = new PayloadWriter(Math.max(n, 1));
  for (const p of parts) typeof p === "number" ? w.f64(p) : w.bytes(p);
  if (tail) w.bytes(tail);
  return w.done();
}

/** A request being decoded: numbers checked as they are read. */
export class FsRequestReader {
  private readonly r: PayloadReader;
  constructor(payload: Uint8Array, readonly what: string) {
    this.r = new PayloadReader(payload, what);
  }
  /** Any f64. */
  number(): number {
    return this.r.f64();
  }
  /** A descriptor: EBADF unless an integer in [0, 2^31). */
  fd(): number {
    const fd = this.r.f64();
    if (!Number.isInteger(fd) || fd < 0 || fd >= 2 ** 31) {
      throw new FsError(FsErrno.EBADF, `${this.what}: ${fd} is not a descriptor`);
    }
    return fd;
  }
  /** A count or offset: EINVAL unless a safe non-negative integer. */
  count(name: string): number {
    const n = this.r.f64();
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new FsError(FsErrno.EINVAL, `${this.what}: ${name} ${n} is not a count of bytes`);
    }
    return n;
  }
  /** A signed offset (SEEK): EINVAL unless a safe integer. */
  offset(): number {
    const n = this.r.f64();
    if (!Number.isSafeInteger(n)) {
      throw new FsError(FsErrno.EINVAL, `${this.what}: offset ${n} is not an integer`);
    }
    return n;
  }
  /** A buffer position: FS_AT_INLINE or a count. */
  at(): number {
    const at = this.r.f64();
    if (at === FS_AT_INLINE || (Number.isSafeInteger(at) && at >= 0)) return at;
    throw new FsError(FsErrno.EINVAL, `${this.what}: buffer position ${at}`);
  }
  /** Open flags or permission bits: EINVAL unless an integer in [0, 2^31). */
  bits(name: string): number {
    const n = this.r.f64();
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31) {
      throw new FsError(FsErrno.EINVAL, `${this.what}: ${name} ${n}`);
    }
    return n;
  }
  /** A time in Unix ms: EINVAL unless finite. */
  time(): number {
    const t = this.r.f64();
    if (!Number.isFinite(t)) throw new FsError(FsErrno.EINVAL, `${this.what}: time ${t}`);
    return t;
  }
  /** A text with its length before it (the first of two). */
  text(): string {
    const n = this.r.f64();
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new TardigradeError(Err.E_BAD_MESSAGE, `${this.what}: text length ${n}`);
    }
    return new PayloadReader(this.r.bytes(n), this.what).restText();
  }
  /** The rest as text (the last or only path). */
  restText(): string {
    return this.r.restText();
  }
  /** The rest as bytes (a view). */
  rest(): Uint8Array {
    return this.r.rest();
  }
  /** E_BAD_MESSAGE if bytes are left over. */
  end(): void {
    this.r.end();
  }
}

/** Encodes a stat record. */
export function encodeStat(s: FsStat): Uint8Array {
  const w = new PayloadWriter(FS_STAT_BYTES);
  for (const v of [s.ino, KINDS.indexOf(s.kind), s.size, s.nlink, s.mode, s.blocks]) w.f64(v);
  return w.f64(s.atimeMs).f64(s.mtimeMs).f64(s.ctimeMs).done();
}

/** Decodes a stat record. */
export function decodeStat(payload: Uint8Array): FsStat {
  const r = new PayloadReader(payload, "fs stat reply");
  const ino = r.f64(), kind = KINDS[r.f64()];
  if (!kind) throw new TardigradeError(Err.E_BAD_MESSAGE, "fs stat reply: unknown kind");
  const s: FsStat = {
    ino,
    kind,
    size: r.f64(),
    nlink: r.f64(),
    mode: r.f64(),
    blocks: r.f64(),
    atimeMs: r.f64(),
    mtimeMs: r.f64(),
    ctimeMs: r.f64(),
  };
  r.end();
  return s;
}

/** Encodes directory entries (READDIR). */
export function encodeDirEntries(entries: FsDirEntry[]): Uint8Array {
  const names = entries.map((e) => encoder.encode(e.name));
  const w = new PayloadWriter(names.reduce((n, b) => n + 10 + b.length, 0) || 1);
  entries.forEach((e, i) => {
    w.bytes(Uint8Array.of(KINDS.indexOf(e.kind))).f64(e.ino);
    w.bytes(Uint8Array.of(names[i].length)).bytes(names[i]);
  });
  return w.done();
}

/** Decodes `count` directory entries. */
export function decodeDirEntries(bytes: Uint8Array, count: number): FsDirEntry[] {
  const r = new PayloadReader(bytes, "fs READDIR entries");
  const out: FsDirEntry[] = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[r.bytes(1)[0]];
    const ino = r.f64();
    const name = new PayloadReader(r.bytes(r.bytes(1)[0]), "fs READDIR name").restText();
    if (!kind) throw new TardigradeError(Err.E_BAD_MESSAGE, "fs READDIR: unknown kind");
    out.push({ name, kind, ino });
  }
  return out;
}

/** Encodes a READDIR reply header. */
export function encodeDirHeader(page: FsDirPage, bytes: number): Uint8Array {
  return new PayloadWriter(24).f64(page.cursor).f64(page.entries.length).f64(bytes).done();
}

/** Encodes SPACE's reply. */
export function encodeSpace(s: FsSpace): Uint8Array {
  return new PayloadWriter(40).f64(s.totalBlocks).f64(s.freeBlocks).f64(s.inodes)
    .f64(s.metadataBytes).f64(s.metadataCapacity).done();
}

/** Decodes SPACE's reply. */
export function decodeSpace(payload: Uint8Array): FsSpace {
  const r = new PayloadReader(payload, "fs SPACE reply");
  const s = {
    totalBlocks: r.f64(),
    freeBlocks: r.f64(),
    inodes: r.f64(),
    metadataBytes: r.f64(),
    metadataCapacity: r.f64(),
  };
  r.end();
  return s;
}

/** A reply that is one f64. */
export function encodeNumber(n: number): Uint8Array {
  return new PayloadWriter(8).f64(n).done();
}

/** Decodes a reply that is one f64. */
export function decodeNumber(payload: Uint8Array, what: string): number {
  const r = new PayloadReader(payload, what);
  const n = r.f64();
  r.end();
  return n;
}
