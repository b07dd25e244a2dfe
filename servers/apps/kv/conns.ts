/**
 * The kv store's connections, kept in its heap (servers/apps/kv/store/):
 * a table of {@link CONNS_MAX} records at app root {@link ROOT_CONNS}, one
 * per open connection, each with its session fields and two buffers that
 * are heap blocks: the input (bytes received, not yet parsed into whole
 * commands) and the output (replies SEND has not taken yet). Everything a
 * connection is lives here, written in the step that changed it, so a
 * resumed or restarted store finds every connection again as it was at
 * the committed checkpoint. The JS {@link Session} objects are a volatile
 * view, rebuilt from the records at start.
 *
 * Record layout ({@link Rec}): u32 connection (0: free), u32 flags, f64
 * client id, f64 created (Unix ms), u32 db, u32 names block (name, lib
 * name, lib version: each a u32 length and its UTF-8 bytes; 0: all
 * empty), then address, start and end of the input block and of the
 * output block (start…end: the bytes still to parse or to send).
 *
 * @module
 */

import { assert } from "../../../kernel/abi/errors.ts";
import { NIC_TABLE_ENTRIES } from "../../../kernel/abi/nic_rx.ts";
import type { Heap } from "./keyspace.ts";
import type { Session } from "./session.ts";

/** Connections the store serves at once: as many as the driver's table holds. */
export const CONNS_MAX = NIC_TABLE_ENTRIES;
/** App root word of the connection table. */
export const ROOT_CONNS = 0;
/** First size of a connection buffer; it doubles as needed. */
const BUFFER_BYTES_MIN = 4096;
/** An empty buffer larger than this goes back to the heap (as Redis shrinks an idle query buffer). */
const BUFFER_BYTES_KEEP = 64 * 1024;

/** Byte offsets within a connection's record. */
enum Rec {
  CONN = 0,
  FLAGS = 4,
  ID = 8,
  CREATED = 16,
  DB = 24,
  NAMES = 28,
  IN = 32,
  IN_START = 36,
  IN_END = 40,
  OUT = 44,
  OUT_START = 48,
  OUT_END = 52,
  /** Bytes of one record. */
  BYTES = 56,
}

/** Flag: close once the output is out (QUIT, a protocol error, the client's EOF). */
export const FLAG_CLOSING = 1;

/** Which of a record's two buffers. */
export type Buffer = "in" | "out";

const OFFSETS = {
  in: { addr: Rec.IN, start: Rec.IN_START, end: Rec.IN_END },
  out: { addr: Rec.OUT, start: Rec.OUT_START, end: Rec.OUT_END },
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One open connection: its record and the session commands see. */
export interface Conn {
  /** The driver's connection handle. */
  readonly handle: number;
  /** Offset of its record in the heap. */
  readonly at: number;
  readonly session: Session;
}

/** The connection table in the heap, and the volatile index over it. */
export class ConnTable {
  private readonly table: number;
  private readonly byHandle = new Map<number, Conn>();

  /** Finds the table at its app root (allocating it on a fresh heap) and indexes every record in use. */
  constructor(readonly heap: Heap) {
    let table = heap.root(ROOT_CONNS);
    if (table === 0) {
      table = heap.alloc(CONNS_MAX * Rec.BYTES);
      heap.mem.fill(table, CONNS_MAX * Rec.BYTES);
      heap.setRoot(ROOT_CONNS, table);
    }
    this.table = table;
    for (let i = 0; i < CONNS_MAX; i++) {
      const at = table + i * Rec.BYTES;
      const handle = this.mem.getU32(at + Rec.CONN);
      if (handle !== 0) this.byHandle.set(handle, { handle, at, session: this.load(at) });
    }
  }

  private get mem() {
    return this.heap.mem;
  }

  /** The open connection `handle`, or undefined. */
  get(handle: number): Conn | undefined {
    return this.byHandle.get(handle);
  }

  /** Every open connection. */
  all(): Conn[] {
    return [...this.byHandle.values()];
  }

  /** A fresh record for `handle` with client id `id`, or undefined when the table is full. */
  add(handle: number, id: number, now: number): Conn | undefined {
    assert(handle !== 0 && !this.byHandle.has(handle), "ConnTable.add", "a new handle");
    for (let i = 0; i < CONNS_MAX; i++) {
      const at = this.table + i * Rec.BYTES;
      if (this.mem.getU32(at + Rec.CONN) !== 0) continue;
      this.mem.fill(at, Rec.BYTES);
      this.mem.setU32(at + Rec.CONN, handle);
      this.mem.setF64(at + Rec.ID, id);
      this.mem.setF64(at + Rec.CREATED, now);
      const conn = { handle, at, session: this.load(at) };
      this.byHandle.set(handle, conn);
      return conn;
    }
    return undefined;
  }

  /** Frees `conn`'s record and its buffers. */
  remove(conn: Conn): void {
    this.dropBuffers(conn);
    const names = this.mem.getU32(conn.at + Rec.NAMES);
    if (names !== 0) this.heap.free(names);
    this.mem.fill(conn.at, Rec.BYTES);
    this.byHandle.delete(conn.handle);
  }

  /** The record's flags. */
  flags(conn: Conn): number {
    return this.mem.getU32(conn.at + Rec.FLAGS);
  }

  /** Sets flag bits. */
  setFlags(conn: Conn, bits: number): void {
    this.mem.setU32(conn.at + Rec.FLAGS, this.flags(conn) | bits);
  }

  /** Writes what commands changed in `conn.session` (db, names) to its record. */
  saveSession(conn: Conn): void {
    const s = conn.session, at = conn.at;
    if (this.mem.getU32(at + Rec.DB) !== s.db) this.mem.setU32(at + Rec.DB, s.db);
    const [name, lib, ver] = this.names(at);
    if (name === s.name && lib === s.libName && ver === s.libVersion) return;
    const parts = [s.name, s.libName, s.libVersion].map((t) => encoder.encode(t));
    const bytes = 12 + parts.reduce((n, p) => n + p.length, 0);
    const block = this.heap.alloc(bytes);
    let off = block;
    for (const p of parts) {
      this.mem.setU32(off, p.length);
      this.mem.write(off + 4, p);
      off += 4 + p.length;
    }
    const old = this.mem.getU32(at + Rec.NAMES);
    this.mem.setU32(at + Rec.NAMES, block);
    if (old !== 0) this.heap.free(old);
  }

  /** The bytes of buffer `b` still to parse or send (a view into the heap, valid until it changes). */
  pending(conn: Conn, b: Buffer): Uint8Array {
    const o = OFFSETS[b], at = conn.at;
    const addr = this.mem.getU32(at + o.addr);
    if (addr === 0) return new Uint8Array(0);
    const start = this.mem.getU32(at + o.start), end = this.mem.getU32(at + o.end);
    return this.mem.bytes.subarray(addr + start, addr + end);
  }

  /** Bytes of buffer `b` still to parse or send. */
  pendingBytes(conn: Conn, b: Buffer): number {
    const o = OFFSETS[b];
    return this.mem.getU32(conn.at + o.end) - this.mem.getU32(conn.at + o.start);
  }

  /**
   * Appends `bytes` to buffer `b`, growing its block (doubling) as needed;
   * throws E_NO_MEMORY, changing nothing, when the heap has no room.
   */
  append(conn: Conn, b: Buffer, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const o = OFFSETS[b], at = conn.at, mem = this.mem;
    let addr = mem.getU32(at + o.addr);
    let start = mem.getU32(at + o.start), end = mem.getU32(at + o.end);
    const size = addr === 0 ? 0 : this.heap.sizeOf(addr);
    if (end + bytes.length > size) {
      const keep = end - start;
      let want = Math.max(BUFFER_BYTES_MIN, size);
      while (want < keep + bytes.length) want *= 2;
      if (want > size) {
        const next = this.heap.alloc(want); // may throw: nothing changed yet
        if (keep > 0) mem.write(next, mem.bytes.subarray(addr + start, addr + end));
        if (addr !== 0) this.heap.free(addr);
        addr = next;
        mem.setU32(at + o.addr, addr);
      } else {
        mem.write(addr, mem.bytes.slice(addr + start, addr + end)); // slide to the front
      }
      start = 0;
      end = keep;
      mem.setU32(at + o.start, 0);
    }
    mem.write(addr + end, bytes);
    mem.setU32(at + o.end, end + bytes.length);
  }

  /** Marks `n` bytes of buffer `b` parsed or sent; an emptied large block goes back to the heap. */
  consume(conn: Conn, b: Buffer, n: number): void {
    const o = OFFSETS[b], at = conn.at, mem = this.mem;
    const start = mem.getU32(at + o.start) + n, end = mem.getU32(at + o.end);
    assert(start <= end, "ConnTable.consume", "no more than is pending");
    if (start < end) return mem.setU32(at + o.start, start);
    const addr = mem.getU32(at + o.addr);
    if (addr !== 0 && this.heap.sizeOf(addr) > BUFFER_BYTES_KEEP) return this.dropBuffer(conn, b);
    mem.setU32(at + o.start, 0);
    mem.setU32(at + o.end, 0);
  }

  /** Gives both of `conn`'s buffers back to the heap (what they held is dropped). */
  dropBuffers(conn: Conn): void {
    this.dropBuffer(conn, "in");
    this.dropBuffer(conn, "out");
  }

  private dropBuffer(conn: Conn, b: Buffer): void {
    const o = OFFSETS[b], at = conn.at;
    const addr = this.mem.getU32(at + o.addr);
    if (addr !== 0) this.heap.free(addr);
    this.mem.setU32(at + o.addr, 0);
    this.mem.setU32(at + o.start, 0);
    this.mem.setU32(at + o.end, 0);
  }

  private names(at: number): [string, string, string] {
    const block = this.mem.getU32(at + Rec.NAMES);
    if (block === 0) return ["", "", ""];
    const out: string[] = [];
    let off = block;
    for (let i = 0; i < 3; i++) {
      const len = this.mem.getU32(off);
      out.push(decoder.decode(this.mem.bytes.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    return out as [string, string, string];
  }

  /** A session from record `at`. */
  private load(at: number): Session {
    const [name, libName, libVersion] = this.names(at);
    return {
      id: this.mem.getF64(at + Rec.ID),
      db: this.mem.getU32(at + Rec.DB),
      name,
      libName,
      libVersion,
      createdAt: this.mem.getF64(at + Rec.CREATED),
      closing: (this.mem.getU32(at + Rec.FLAGS) & FLAG_CLOSING) !== 0,
      // The driver does not say the peer's address; the handle tells connections apart.
      addr: `127.0.0.1:${this.mem.getU32(at + Rec.CONN)}`,
      lastCommand: "",
    };
  }
}
