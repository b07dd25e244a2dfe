/**
 * The memory server's protocol: labels (from 16 on, beside the common
 * Label.STATUS = 1 and Label.ECHO = 2 of servers/protocol.ts) and the binary
 * encodings of requests and replies, shared by the server
 * (servers/memory/main.ts) and the client library (servers/memory/client.ts).
 *
 * Fields are written and read with the payload codec (kernel/abi/payload.ts);
 * every number is little-endian. Numbers a client chooses (sizes, offsets,
 * lengths, page numbers) travel as f64, so that whatever a client sends
 * (negative, fractional, huge) reaches the server and is refused there by
 * name (E_BAD_ARGUMENT) instead of being wrapped silently. A payload of the
 * wrong length or shape is E_BAD_MESSAGE.
 *
 * | label          | request                                 | reply                  |
 * |----------------|-----------------------------------------|------------------------|
 * | ALLOC          | f64 size                                | info (32 bytes)        |
 * | FREE           | id (16)                                 | empty                  |
 * | RESOLVE        | pointer (24: id, u32 offset, u32 0)     | u32 offset, u32 size   |
 * | NAME_CREATE    | f64 size, UTF-8 name (1..64 bytes)      | info                   |
 * | NAME_OPEN      | UTF-8 name                              | info                   |
 * | NAME_DELETE    | UTF-8 name                              | empty                  |
 * | READ           | id, f64 offset, f64 length (<= 960)     | the bytes              |
 * | WRITE          | id, f64 offset, bytes (<= 960)          | empty                  |
 * | USAGE          | empty                                   | 4 x i32 (see Usage)    |
 * | FRAME_ALLOC_4K | empty                                   | u32 page               |
 * | FRAME_FREE_4K  | f64 page                                | empty                  |
 * | FRAME_ALLOC_2M | empty                                   | u32 first page         |
 * | FRAME_FREE_2M  | f64 first page                          | empty                  |
 * | STATS          | empty                                   | JSON {@link MemoryStats} |
 *
 * An *id* is the object's 128-bit id as 4 u32 (heap instance low, high,
 * generation, slot); shown to programs as 32 hex digits (each u32 as 8 hex
 * digits, in that order), as ObjectHeap.idOf prints it. *info* is
 * `id (16), f64 ref, u32 size, u32 owner`. A pointer is the object heap's
 * 24-byte persistent pointer (objects.ts).
 *
 * Ownership: the owner of an object or a frame is the badge of the
 * capability its allocator called through (set by the kernel; init mints
 * one per client component). Only the owner may FREE, READ, WRITE or
 * NAME_DELETE it (else E_NOT_OWNER); anyone may RESOLVE a pointer or
 * NAME_OPEN a name (names are one namespace: servers prefix theirs, e.g.
 * "fs:"). Each owner gets {@link DEFAULT_QUOTA_PAGES} heap pages and
 * {@link DEFAULT_FRAME_QUOTA_PAGES} frame pages; over it, E_NO_MEMORY for
 * that owner only. New objects read as zeros.
 *
 * @module
 */

import type { HeapStats } from "./objects.ts";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";

/** Labels of the memory server's operations. */
export enum MemLabel {
  ALLOC = 16,
  FREE = 17,
  RESOLVE = 18,
  NAME_CREATE = 19,
  NAME_OPEN = 20,
  NAME_DELETE = 21,
  READ = 22,
  WRITE = 23,
  USAGE = 24,
  FRAME_ALLOC_4K = 25,
  FRAME_FREE_4K = 26,
  FRAME_ALLOC_2M = 27,
  FRAME_FREE_2M = 28,
  STATS = 29,
}

/** Most bytes one READ returns or one WRITE carries. */
export const DATA_BYTES_MAX = 960;
/** Bytes of a binary object id. */
export const ID_BYTES = 16;
/** Bytes of a persistent pointer. */
export const POINTER_BYTES = 24;
/** Bytes of an encoded {@link ObjectInfo}. */
export const INFO_BYTES = 32;
/** Longest object name in UTF-8 bytes. */
export const NAME_BYTES_MAX = 64;
/** Heap pages each owner (badge) may use unless told otherwise. */
export const DEFAULT_QUOTA_PAGES = 256;
/** Frame pages (4 KiB each; a 2 MiB frame counts 512) each owner may hold. */
export const DEFAULT_FRAME_QUOTA_PAGES = 1024;

/** An object as ALLOC, NAME_CREATE and NAME_OPEN describe it. */
export interface ObjectInfo {
  /** 128-bit id, 32 hex digits. */
  id: string;
  /** The heap's ref (a number; only meaningful inside the memory server's heap). */
  ref: number;
  /** Size in bytes. */
  size: number;
  /** Owner: the badge it is charged to. */
  owner: number;
}

/** A persistent pointer: byte `offset` of object `id`. */
export interface Pointer {
  id: string;
  offset: number;
}

/** What RESOLVE answers. */
export interface Resolved {
  /** Byte offset of the pointed-to byte in the memory server's heap PMO. */
  offset: number;
  /** Size in bytes of the object. */
  size: number;
}

/** What USAGE answers for the caller's badge. */
export interface Usage {
  /** Heap pages charged. */
  pages: number;
  /** Heap quota in pages (Infinity: none). */
  quota: number;
  /** Frame pages held. */
  framePages: number;
  /** Frame quota in pages. */
  frameQuota: number;
}

/** What STATS answers. */
export interface MemoryStats {
  heap: HeapStats;
  frames: { pages: number; freePages: number; hugeFrames: number; owners: number };
  /** Requests served by this incarnation of the server. */
  requests: number;
  /** True when the server attached to an existing heap (resume or restart). */
  resumed: boolean;
  /** What recovery found at the last attach (null on a fresh start). */
  recovery: Record<string, unknown> | null;
  /** "ok", or the first broken invariant of the heap and frame pool. */
  check: string;
}

const encoder = new TextEncoder();

function badArgument(what: string): never {
  throw new TardigradeError(Err.E_BAD_ARGUMENT, what);
}

// ---------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------

const HEX_ID = /^[0-9a-f]{32}$/i;

/** The 16-byte binary form of a 32-hex-digit id (E_BAD_ARGUMENT if it is not one). */
export function idToBytes(id: string): Uint8Array {
  if (typeof id !== "string" || !HEX_ID.test(id)) {
    badArgument(`object id ${JSON.stringify(id)?.slice(0, 40)} is not 32 hex digits`);
  }
  const out = new Uint8Array(ID_BYTES);
  const v = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) v.setUint32(i * 4, parseInt(id.slice(i * 8, i * 8 + 8), 16), true);
  return out;
}

/** The 32-hex-digit form of a binary id at `at` of `bytes`. */
export function idFromBytes(bytes: Uint8Array, at = 0): string {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, ID_BYTES);
  let s = "";
  for (let i = 0; i < 4; i++) s += v.getUint32(i * 4, true).toString(16).padStart(8, "0");
  return s;
}

/** True if all 16 bytes of the id at `at` are zero (no object). */
export function isNullId(bytes: Uint8Array, at = 0): boolean {
  for (let i = 0; i < ID_BYTES; i++) if (bytes[at + i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Requests (client side encodes, server side decodes)
// ---------------------------------------------------------------------------

/** ALLOC, FRAME_FREE_4K, FRAME_FREE_2M: one number. */
export function encodeNumber(n: number): Uint8Array {
  return new PayloadWriter(8).f64(n).done();
}

/** FREE: an id. */
export function encodeId(id: string): Uint8Array {
  return idToBytes(id);
}

/** RESOLVE: a 24-byte persistent pointer. */
export function encodePointer(ptr: Pointer): Uint8Array {
  const off = ptr?.offset;
  if (!(Number.isInteger(off) && off >= 0 && off < 2 ** 32)) {
    badArgument(`pointer offset ${String(off)} must be an integer in [0, 2^32)`);
  }
  return new PayloadWriter(POINTER_BYTES).bytes(idToBytes(ptr.id)).u32(off).u32(0).done();
}

/** NAME_CREATE: size and name. */
export function encodeCreate(name: string, size: number): Uint8Array {
  return new PayloadWriter().f64(size).bytes(encoder.encode(String(name))).done();
}

/** NAME_OPEN, NAME_DELETE: a name. */
export function encodeName(name: string): Uint8Array {
  return new PayloadWriter().bytes(encoder.encode(String(name))).done();
}

/** READ: id, offset, length. */
export function encodeRead(id: string, offset: number, length: number): Uint8Array {
  return new PayloadWriter(32).bytes(idToBytes(id)).f64(offset).f64(length).done();
}

/** WRITE: id, offset, bytes. */
export function encodeWrite(id: string, offset: number, data: Uint8Array): Uint8Array {
  return new PayloadWriter().bytes(idToBytes(id)).f64(offset).bytes(data).done();
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/** Encodes an {@link ObjectInfo} whose id is given in binary. */
export function encodeInfo(id: Uint8Array, ref: number, size: number, owner: number): Uint8Array {
  return new PayloadWriter(INFO_BYTES).bytes(id).f64(ref).u32(size).u32(owner).done();
}

/** Decodes ALLOC, NAME_CREATE and NAME_OPEN replies. */
export function decodeInfo(payload: Uint8Array): ObjectInfo {
  const r = new PayloadReader(payload, "object info");
  const id = idFromBytes(r.bytes(ID_BYTES));
  const info = { id, ref: r.f64(), size: r.u32(), owner: r.u32() };
  r.end();
  return info;
}

/** Encodes a RESOLVE reply. */
export function encodeResolved(offset: number, size: number): Uint8Array {
  return new PayloadWriter(8).u32(offset).u32(size).done();
}

/** Decodes a RESOLVE reply. */
export function decodeResolved(payload: Uint8Array): Resolved {
  const r = new PayloadReader(payload, "resolve reply");
  const out = { offset: r.u32(), size: r.u32() };
  r.end();
  return out;
}

/** Encodes a USAGE reply (quota Infinity as -1). */
export function encodeUsage(u: Usage): Uint8Array {
  const q = (n: number) => (n === Infinity ? -1 : n);
  return new PayloadWriter(16).i32(u.pages).i32(q(u.quota)).i32(u.framePages).i32(q(u.frameQuota))
    .done();
}

/** Decodes a USAGE reply. */
export function decodeUsage(payload: Uint8Array): Usage {
  const r = new PayloadReader(payload, "usage reply");
  const q = (n: number) => (n === -1 ? Infinity : n);
  const u = { pages: r.i32(), quota: q(r.i32()), framePages: r.i32(), frameQuota: q(r.i32()) };
  r.end();
  return u;
}

/** Encodes a page number reply (FRAME_ALLOC_*). */
export function encodePage(page: number): Uint8Array {
  return new PayloadWriter(4).u32(page).done();
}

/** Decodes a page number reply. */
export function decodePage(payload: Uint8Array): number {
  const r = new PayloadReader(payload, "frame reply");
  const page = r.u32();
  r.end();
  return page;
}

/** Decodes an empty reply (E_BAD_MESSAGE if it is not empty). */
export function decodeEmpty(payload: Uint8Array): void {
  new PayloadReader(payload, "reply").end();
}
