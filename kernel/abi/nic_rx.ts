/**
 * The NIC's receive side: one PMO (role "nic-rx") that the kernel makes at
 * a fresh boot, init holds in INIT_NIC_RX_SLOT and grants to the network
 * driver as "nic-rx", and a device register that comes with its mapping.
 *
 * Map of the PMO:
 * - Page 0, the **connection table**: {@link NIC_TABLE_ENTRIES} entries of
 *   {@link NIC_TABLE_ENTRY_BYTES}, written by the driver through the write
 *   barrier. Each says a port the machine listens on, or a connection and
 *   how far its program has consumed the inbound stream. The kernel copies
 *   the table at every freeze ({@link nicTableBytes}); when that checkpoint
 *   commits, the board sends LISTEN for new ports and ACK for consumed bytes,
 *   and after a resume or a new link it says HELLO with the committed
 *   table's LISTEN and SYNC frames (kernel/abi/net_link.ts). So the switch
 *   drops inbound bytes only once a committed state has consumed them.
 * - Pages 1…, the **receive ring**: link frames the board writes as the
 *   switch sends them ({@link NicRxWriter}), read by the driver
 *   ({@link NicRxReader}). Written through the barrier like any memory, but
 *   what it holds has no meaning after a resume: the register starts empty
 *   again and the switch re-sends everything the committed table has not
 *   consumed. The driver applies frames idempotently (a byte below what it
 *   holds, an OPEN it knows, a repeated FIN change nothing), so frames seen
 *   twice are harmless.
 *
 * Register (volatile, 64-bit words): HEAD, the end of the frames the board
 * wrote; TAIL, the end of those the driver has applied. The board writes
 * only where TAIL leaves room; the driver moves TAIL after applying a batch,
 * in the same step, so a driver that dies mid-batch is given it again.
 *
 * @module
 */

import { load64, store64 } from "./console.ts";
import { Err, TardigradeError } from "./errors.ts";
import type { PmoBuffers } from "./layout.ts";
import { PAGE_BYTES } from "./limits.ts";
import { FRAME_DATA_MAX, FRAME_HEADER_BYTES, FrameReader, type LinkFrame } from "./net_link.ts";
import { PersistentMemory } from "./pmem.ts";

/** Entries of the connection table (listening ports and connections together). */
export const NIC_TABLE_ENTRIES = 128;
/** Bytes of one table entry: u8 kind, u8 0, u16 port, u32 connection, f64 consumed. */
export const NIC_TABLE_ENTRY_BYTES = 16;
/** Bytes of the table (at the start of page 0). */
export const NIC_TABLE_BYTES = NIC_TABLE_ENTRIES * NIC_TABLE_ENTRY_BYTES;
/** Byte offset of the receive ring in the PMO. */
export const NIC_RX_RING_OFFSET = PAGE_BYTES;
/** Bytes of the receive ring. */
export const NIC_RX_RING_BYTES = 256 * 1024;
/** Pages of the receive PMO: the table page, then the ring. */
export const NIC_RX_PAGES = 1 + NIC_RX_RING_BYTES / PAGE_BYTES;

/** Word offsets in the receive register (each a 64-bit byte offset). */
export enum NicRxRegister {
  /** Words 0-1: end of the frames the board wrote. */
  HEAD = 0,
  /** Words 2-3: end of the frames the driver applied. */
  TAIL = 2,
  COUNT = 4,
}

/** What a table entry is. */
export enum NicEntryKind {
  FREE = 0,
  /** A program listens on `port`. */
  LISTEN = 1,
  /** Connection `conn` on `port`; its program consumed its inbound stream up to `consumed`. */
  CONN = 2,
}

/** One table entry. */
export interface NicEntry {
  kind: NicEntryKind;
  port: number;
  conn: number;
  consumed: number;
}

const FREE_ENTRY: NicEntry = { kind: NicEntryKind.FREE, port: 0, conn: 0, consumed: 0 };

function decodeEntry(v: DataView, at: number): NicEntry {
  const kind = v.getUint8(at);
  if (kind !== NicEntryKind.LISTEN && kind !== NicEntryKind.CONN) return FREE_ENTRY;
  return {
    kind,
    port: v.getUint16(at + 2, true),
    conn: v.getUint32(at + 4, true),
    consumed: v.getFloat64(at + 8, true),
  };
}

/**
 * The table's bytes now: the kernel's copy at the freeze (the committed
 * table once that commits), into `into` when given (the pause reuses its
 * buffers: allocating one there can wait hundreds of µs for the
 * collector's sweeper on a busy host), else a new array.
 */
export function nicTableBytes(
  rx: PmoBuffers,
  into: Uint8Array = new Uint8Array(NIC_TABLE_BYTES),
): Uint8Array {
  into.set(new Uint8Array(rx.data, 0, NIC_TABLE_BYTES));
  return into;
}

/** The used entries of a table copy ({@link nicTableBytes}), in table order. */
export function decodeNicTable(bytes: Uint8Array): NicEntry[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: NicEntry[] = [];
  for (let at = 0; at + NIC_TABLE_ENTRY_BYTES <= bytes.length; at += NIC_TABLE_ENTRY_BYTES) {
    const e = decodeEntry(v, at);
    if (e.kind !== NicEntryKind.FREE) out.push(e);
  }
  return out;
}

/** The connection table, the network driver's side: reads and writes entries through the barrier. */
export class NicTable {
  private readonly view: DataView;

  constructor(private readonly mem: PersistentMemory, rx: PmoBuffers) {
    this.view = new DataView(rx.data, 0, NIC_TABLE_BYTES);
  }

  /** Entry `i` (0 ≤ i < {@link NIC_TABLE_ENTRIES}). */
  get(i: number): NicEntry {
    return decodeEntry(this.view, i * NIC_TABLE_ENTRY_BYTES);
  }

  /** Writes entry `i` whole. */
  set(i: number, e: NicEntry): void {
    const at = i * NIC_TABLE_ENTRY_BYTES;
    const bytes = new Uint8Array(NIC_TABLE_ENTRY_BYTES);
    const v = new DataView(bytes.buffer);
    v.setUint8(0, e.kind);
    v.setUint16(2, e.port, true);
    v.setUint32(4, e.conn, true);
    v.setFloat64(8, e.consumed, true);
    this.mem.write(at, bytes);
  }

  /** Sets how far the program consumed connection entry `i`'s inbound stream. */
  setConsumed(i: number, consumed: number): void {
    this.mem.setF64(i * NIC_TABLE_ENTRY_BYTES + 8, consumed);
  }

  /** Frees entry `i`. */
  clear(i: number): void {
    this.set(i, FREE_ENTRY);
  }

  /** Index of the first entry for which `match` holds, or -1. */
  find(match: (e: NicEntry) => boolean): number {
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) if (match(this.get(i))) return i;
    return -1;
  }
}

/** A receive register with an empty ring (fresh boot, resume, rollback). */
export function newNicRxRegister(): SharedArrayBuffer {
  return new SharedArrayBuffer(NicRxRegister.COUNT * 4);
}

/** Bytes [from, to) of the receive ring (offsets wrap at {@link NIC_RX_RING_BYTES}). */
function readRing(rx: PmoBuffers, from: number, to: number): Uint8Array {
  const bytes = new Uint8Array(rx.data, NIC_RX_RING_OFFSET, NIC_RX_RING_BYTES);
  const out = new Uint8Array(to - from);
  const at = from % NIC_RX_RING_BYTES;
  const first = Math.min(out.length, NIC_RX_RING_BYTES - at);
  out.set(bytes.subarray(at, at + first));
  if (first < out.length) out.set(bytes.subarray(0, out.length - first), first);
  return out;
}

/** Writes link frames into the receive ring (the board's side). */
export class NicRxWriter {
  private readonly mem: PersistentMemory;

  constructor(private readonly rx: PmoBuffers, readonly register: SharedArrayBuffer) {
    this.mem = new PersistentMemory(rx);
  }

  /** Bytes a frame may take now. */
  room(): number {
    return NIC_RX_RING_BYTES -
      (load64(this.register, NicRxRegister.HEAD) - load64(this.register, NicRxRegister.TAIL));
  }

  /** Appends one whole frame's bytes; false (nothing written) while the driver has not made room. */
  write(frame: Uint8Array): boolean {
    if (frame.length > FRAME_HEADER_BYTES + FRAME_DATA_MAX) {
      throw new TardigradeError(Err.E_LIMIT, `nic: a frame of ${frame.length} bytes`);
    }
    if (frame.length > this.room()) return false;
    const head = load64(this.register, NicRxRegister.HEAD);
    for (let i = 0; i < frame.length;) {
      const at = (head + i) % NIC_RX_RING_BYTES;
      const n = Math.min(frame.length - i, NIC_RX_RING_BYTES - at);
      this.mem.write(NIC_RX_RING_OFFSET + at, frame.subarray(i, i + n));
      i += n;
    }
    store64(this.register, NicRxRegister.HEAD, head + frame.length);
    return true;
  }
}

/** Reads link frames out of the receive ring (the network driver's side). */
export class NicRxReader {
  private pendingTail: number | undefined;

  constructor(private readonly rx: PmoBuffers, private readonly register: SharedArrayBuffer) {}

  /**
   * The frames the board wrote and the driver has not applied, in order.
   * Call {@link consume} once they are applied; until then the next read
   * returns them again. Throws E_BAD_MESSAGE if the ring holds no frame.
   */
  read(): LinkFrame[] {
    const tail = load64(this.register, NicRxRegister.TAIL);
    const head = load64(this.register, NicRxRegister.HEAD);
    this.pendingTail = head;
    if (head === tail) return [];
    return new FrameReader().push(readRing(this.rx, tail, head));
  }

  /** Frees the frames the last {@link read} returned. */
  consume(): void {
    if (this.pendingTail === undefined) return;
    store64(this.register, NicRxRegister.TAIL, this.pendingTail);
    this.pendingTail = undefined;
  }
}
