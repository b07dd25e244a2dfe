/**
 * The network driver's socket table: applies receive frames (OPEN, DATA,
 * FIN, GONE, ACK from the switch) and socket calls (LISTEN, ACCEPT, RECV,
 * SEND, SHUTDOWN, CLOSE, REGISTER, POLL, RECV_MANY, SEND_MANY;
 * servers/net/protocol.ts) to
 * persistent state. No system calls here: the driver (main.ts) maps the
 * memory, reads the ring and signals the notifications {@link Sockets.takeSignals}
 * names, all in the same step.
 *
 * Map of the state:
 * - the NIC's connection table (kernel/abi/nic_rx.ts, {@link NicTable}):
 *   entry i is a LISTEN (a port) or a CONN (a connection and how far its
 *   program consumed it). The board turns its committed copy into the
 *   LISTEN, ACK and SYNC frames, so the driver never writes those itself.
 * - the state PMO ({@link SOCKET_STATE_PAGES} pages): record i
 *   ({@link RecordField}) is entry i's driver-private part (owner badge,
 *   {@link SocketFlag}s, received, sent, delivered, peer FIN offset, accept
 *   order, pending events, protocol.ts SocketEvent); after the records, the accept
 *   counter and the client table (badge → registered notification slot,
 *   and whether it is owed a signal).
 * - the inbound PMO ({@link INBOUND_PAGES} pages): RX_WINDOW_BYTES per
 *   entry; the byte at stream offset o of entry i's connection lives at
 *   i × RX_WINDOW_BYTES + o mod RX_WINDOW_BYTES. The switch sends no byte
 *   past consumed + RX_WINDOW_BYTES, so nothing unconsumed is overwritten.
 *
 * Frames are applied idempotently: after a resume or a driver restart the
 * switch re-sends from the committed `consumed`, so a byte below `received`,
 * an OPEN already known, a FIN already seen change nothing.
 *
 * A connection whose switch side went (GONE) while its owner still had it
 * open keeps its record (table entry freed) until the owner has seen HUP in
 * a POLL or closed it.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import {
  encodeFrame,
  FRAME_DATA_MAX,
  FRAME_HEADER_BYTES,
  FrameType,
  type LinkFrame,
  RX_WINDOW_BYTES,
  TX_WINDOW_BYTES,
} from "../../kernel/abi/net_link.ts";
import type { NicTxWriter } from "../../kernel/abi/nic.ts";
import { NIC_TABLE_ENTRIES, NicEntryKind, type NicTable } from "../../kernel/abi/nic_rx.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../kernel/abi/limits.ts";
import {
  HandleKind,
  MANY_COUNT_BYTES,
  type NetEvent,
  type ReceivedMany,
  RECV_BYTES_MAX,
  RECV_MANY_ENTRY_BYTES,
  type SentMany,
  SocketEvent,
} from "./protocol.ts";

/** Byte offsets within one socket record of the state PMO. */
export enum RecordField {
  /** u32 badge of the owning client (0: none). */
  OWNER = 0,
  /** u32 {@link SocketFlag}s. */
  FLAGS = 4,
  /** u32 the switch's connection id (a CONN, or a gone one kept for its HUP). */
  CONN = 8,
  /** u32 pending events (protocol.ts SocketEvent), cleared by POLL. */
  EVENTS = 12,
  /** f64 end of the inbound bytes held (stream offset). */
  RECEIVED = 16,
  /** f64 end of the outbound bytes written into the transmit ring. */
  SENT = 24,
  /** f64 outbound bytes the switch delivered (its last ACK). */
  DELIVERED = 32,
  /** f64 the client's EOF offset (with PEER_FIN). */
  FIN_AT = 40,
  /** f64 order of arrival among connections waiting for ACCEPT. */
  ACCEPT_ORDER = 48,
  /** Bytes of one record. */
  BYTES = 64,
}

/** Flags of a socket record. */
export enum SocketFlag {
  ACCEPTED = 1,
  PEER_FIN = 2,
  WRITE_SHUT = 4,
  CLOSED = 8,
  WANTS_WRITE = 16,
  /** The switch forgot the connection; the record waits for its owner to see HUP. */
  GONE = 32,
}

/** Clients (request badges) that may register a notification. */
export const CLIENTS_MAX = 128;
/** Bytes of one client entry: u32 badge (0: free), u32 notification slot, u32 owed a signal. */
const CLIENT_BYTES = 16;
/** Byte offset of the accept counter (f64), after the records. */
const ACCEPT_COUNTER_AT = NIC_TABLE_ENTRIES * RecordField.BYTES;
/** Byte offset of the client table. */
const CLIENTS_AT = ACCEPT_COUNTER_AT + 16;
/** Pages of the state PMO: the records, the counter, the clients. */
export const SOCKET_STATE_PAGES = Math.ceil((CLIENTS_AT + CLIENTS_MAX * CLIENT_BYTES) / PAGE_BYTES);
/** Pages of the inbound PMO: one receive window per table entry. */
export const INBOUND_PAGES = NIC_TABLE_ENTRIES * RX_WINDOW_BYTES / PAGE_BYTES;

assert(RX_WINDOW_BYTES % PAGE_BYTES === 0, "sockets", "a receive window is whole pages");
assert(NIC_TABLE_ENTRIES <= CLIENTS_MAX, "sockets", "every owner of an entry can register");

/** Badge 0 means "nobody" in a record: an unbadged caller owns nothing. */
function requireBadge(badge: number, what: string): void {
  if (badge !== 0) return;
  throw new TardigradeError(
    Err.E_NOT_OWNER,
    `net: ${what} from an unbadged capability; connect with the badged one init grants`,
  );
}

/** What the socket table works on. */
export interface SocketsDeps {
  /** The state PMO ({@link SOCKET_STATE_PAGES} pages). */
  state: PersistentMemory;
  /** The inbound PMO ({@link INBOUND_PAGES} pages). */
  inbound: PersistentMemory;
  /** The NIC's connection table. */
  table: NicTable;
  /** The transmit ring's writer; absent when init granted none. */
  tx?: NicTxWriter;
  /** Diagnostics (switch violations). */
  log: (text: string) => void;
}

/** The socket table. Every method runs inside one step of the driver. */
export class Sockets {
  private readonly state: PersistentMemory;
  private readonly inbound: PersistentMemory;
  private readonly table: NicTable;
  private readonly tx?: NicTxWriter;
  private readonly log: (text: string) => void;

  constructor(deps: SocketsDeps) {
    ({ state: this.state, inbound: this.inbound, table: this.table, log: this.log } = deps);
    this.tx = deps.tx;
    assert(
      this.state.byteLength >= SOCKET_STATE_PAGES * PAGE_BYTES,
      "Sockets",
      "state PMO too small",
    );
    assert(
      this.inbound.byteLength >= INBOUND_PAGES * PAGE_BYTES,
      "Sockets",
      "inbound PMO too small",
    );
  }

  // ---- frames from the switch ----

  /** Applies a batch of receive frames, then wakes writers that can go on. */
  applyFrames(frames: LinkFrame[]): void {
    for (const f of frames) this.applyFrame(f);
    this.wakeWriters();
  }

  private applyFrame(f: LinkFrame): void {
    switch (f.type) {
      case FrameType.OPEN:
        return this.onOpen(f.conn, f.port);
      case FrameType.DATA:
        return this.onData(f.conn, f.off, f.data);
      case FrameType.FIN:
        return this.onFin(f.conn, f.off);
      case FrameType.GONE:
        return this.onGone(f.conn);
      case FrameType.ACK:
        return this.onAck(f.conn, f.off);
      case FrameType.SYNC_DONE:
        return;
      default:
        this.log(
          `net: frame type ${FrameType[f.type]} from the switch ignored (machine → switch only)`,
        );
    }
  }

  private onOpen(conn: number, port: number): void {
    if (this.connEntry(conn) !== -1) return;
    const listener = this.listenEntry(port);
    const free = listener === -1 ? -1 : this.freeEntry();
    if (free === -1) {
      // Refused: the client sees its connection closed; nothing is recorded.
      if (!this.tx?.write(encodeFrame(FrameType.FIN, conn, 0))) {
        this.log(`net: OPEN ${conn} on port ${port} refused, and no ring room for its FIN`);
      }
      return;
    }
    this.table.set(free, { kind: NicEntryKind.CONN, port, conn, consumed: 0 });
    const r = this.rec(free);
    const owner = this.state.getU32(this.rec(listener) + RecordField.OWNER);
    this.state.fill(r, RecordField.BYTES);
    this.state.setU32(r + RecordField.OWNER, owner);
    this.state.setU32(r + RecordField.CONN, conn);
    const order = this.state.getF64(ACCEPT_COUNTER_AT);
    this.state.setF64(ACCEPT_COUNTER_AT, order + 1);
    this.state.setF64(r + RecordField.ACCEPT_ORDER, order);
    this.raise(listener, SocketEvent.ACCEPTABLE);
  }

  private onData(conn: number, off: number, data: Uint8Array): void {
    const i = this.connEntry(conn);
    if (i === -1 || this.flags(i) & SocketFlag.CLOSED) return;
    const r = this.rec(i);
    const received = this.state.getF64(r + RecordField.RECEIVED);
    const end = off + data.length;
    if (off > received) {
      this.log(`net: DATA ${conn} at ${off} leaves a gap after ${received}; dropped`);
      return;
    }
    if (end <= received) return;
    if (end > this.table.get(i).consumed + RX_WINDOW_BYTES) {
      this.log(`net: DATA ${conn} up to ${end} is past the receive window; dropped`);
      return;
    }
    this.writeInbound(i, received, data.subarray(received - off));
    this.state.setF64(r + RecordField.RECEIVED, end);
    this.raise(i, SocketEvent.READABLE);
  }

  private onFin(conn: number, off: number): void {
    const i = this.connEntry(conn);
    if (i === -1 || this.flags(i) & (SocketFlag.CLOSED | SocketFlag.PEER_FIN)) return;
    this.state.setF64(this.rec(i) + RecordField.FIN_AT, off);
    this.setFlags(i, this.flags(i) | SocketFlag.PEER_FIN);
    this.raise(i, SocketEvent.READABLE);
  }

  private onGone(conn: number): void {
    const i = this.connEntry(conn);
    if (i === -1) return;
    this.table.clear(i);
    const flags = this.flags(i);
    if ((flags & SocketFlag.ACCEPTED) && !(flags & SocketFlag.CLOSED)) {
      this.setFlags(i, flags | SocketFlag.GONE);
      this.raise(i, SocketEvent.HUP);
    } else {
      this.state.fill(this.rec(i), RecordField.BYTES);
    }
  }

  private onAck(conn: number, off: number): void {
    const i = this.connEntry(conn);
    if (i === -1) return;
    const r = this.rec(i);
    const sent = this.state.getF64(r + RecordField.SENT);
    if (off > sent) this.log(`net: ACK ${conn} at ${off} is past what was sent (${sent})`);
    const delivered = Math.min(off, sent);
    if (delivered > this.state.getF64(r + RecordField.DELIVERED)) {
      this.state.setF64(r + RecordField.DELIVERED, delivered);
    }
  }

  /** WRITABLE for every socket that wanted to write and now has window and ring room. */
  private wakeWriters(): void {
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) {
      const flags = this.flags(i);
      if (!(flags & SocketFlag.WANTS_WRITE)) continue;
      if (this.table.get(i).kind !== NicEntryKind.CONN || this.sendable(i, 1) === 0) continue;
      this.setFlags(i, flags & ~SocketFlag.WANTS_WRITE);
      this.raise(i, SocketEvent.WRITABLE);
    }
  }

  // ---- calls from clients ----

  /** LISTEN: `badge` listens on `port` (again: ok). E_EXISTS if another client does. */
  listen(badge: number, port: number): void {
    requireBadge(badge, "LISTEN");
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `net: LISTEN on port ${port}: use 1…65535`);
    }
    const at = this.listenEntry(port);
    if (at !== -1) {
      if (this.owner(at) === badge) return;
      throw new TardigradeError(
        Err.E_EXISTS,
        `net: port ${port} is another client's; listen on another port`,
      );
    }
    const free = this.freeEntry();
    if (free === -1) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `net: all ${NIC_TABLE_ENTRIES} sockets in use; close some first`,
      );
    }
    this.table.set(free, { kind: NicEntryKind.LISTEN, port, conn: 0, consumed: 0 });
    this.state.fill(this.rec(free), RecordField.BYTES);
    this.state.setU32(this.rec(free) + RecordField.OWNER, badge);
  }

  /** ACCEPT: the oldest connection waiting on `port`; E_WOULD_BLOCK if none. */
  accept(badge: number, port: number): number {
    const l = this.listenEntry(port);
    if (l === -1) {
      throw new TardigradeError(Err.E_NOT_FOUND, `net: ACCEPT on port ${port}: not listening`);
    }
    this.checkOwner(l, badge, `ACCEPT on port ${port}`);
    let oldest = -1;
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) {
      const e = this.table.get(i);
      if (e.kind !== NicEntryKind.CONN || e.port !== port || this.owner(i) !== badge) continue;
      if (this.flags(i) & SocketFlag.ACCEPTED) continue;
      if (oldest === -1 || this.order(i) < this.order(oldest)) oldest = i;
    }
    if (oldest === -1) {
      throw new TardigradeError(
        Err.E_WOULD_BLOCK,
        `net: no connection waits on port ${port}; accept again on ACCEPTABLE`,
      );
    }
    this.setFlags(oldest, this.flags(oldest) | SocketFlag.ACCEPTED);
    if (this.events(oldest) !== 0) this.owe(badge);
    return this.table.get(oldest).conn;
  }

  /** RECV: up to `max` bytes (at most {@link RECV_BYTES_MAX}) and whether the client's EOF follows. */
  recv(
    badge: number,
    conn: number,
    max: number,
  ): { eof: boolean; bytes: Uint8Array; more: boolean } {
    const i = this.openConn(badge, conn, "RECV");
    const r = this.rec(i);
    const consumed = this.table.get(i).consumed;
    const received = this.state.getF64(r + RecordField.RECEIVED);
    const n = Math.max(0, Math.min(max, RECV_BYTES_MAX, received - consumed));
    const fin = (this.flags(i) & SocketFlag.PEER_FIN) !== 0;
    const eof = fin && consumed + n >= this.state.getF64(r + RecordField.FIN_AT);
    if (n === 0 && !eof) {
      throw new TardigradeError(
        Err.E_WOULD_BLOCK,
        `net: nothing to receive on ${conn}; receive again on READABLE`,
      );
    }
    const bytes = this.readInbound(i, consumed, n);
    if (n > 0) this.table.setConsumed(i, consumed + n);
    return { eof, bytes, more: received > consumed + n };
  }

  /**
   * RECV_MANY: each of `conns` as RECV would, in order, while the reply has
   * room (a header and one byte); an entry's error is its `err`, never the
   * call's, so bytes consumed for an earlier entry are always answered.
   */
  recvMany(badge: number, conns: number[]): ReceivedMany[] {
    const out: ReceivedMany[] = [];
    let room = MESSAGE_PAYLOAD_BYTES_MAX - MANY_COUNT_BYTES;
    for (const conn of conns) {
      if (room <= RECV_MANY_ENTRY_BYTES) break;
      room -= RECV_MANY_ENTRY_BYTES;
      try {
        const got = this.recv(badge, conn, room);
        room -= got.bytes.length;
        out.push({ conn, err: Err.OK, ...got });
      } catch (e) {
        if (!(e instanceof TardigradeError)) throw e;
        out.push({ conn, err: e.code, eof: false, more: false, bytes: new Uint8Array(0) });
      }
    }
    return out;
  }

  /** SEND_MANY: each item as SEND would, in order; an item's error is its `err` (0 taken). */
  sendMany(badge: number, items: Array<{ conn: number; bytes: Uint8Array }>): SentMany[] {
    return items.map(({ conn, bytes }) => {
      try {
        return { err: Err.OK, taken: this.send(badge, conn, bytes) };
      } catch (e) {
        if (!(e instanceof TardigradeError)) throw e;
        return { err: e.code, taken: 0 };
      }
    });
  }

  /** SEND: takes what window and ring allow (one DATA frame); returns how many bytes. */
  send(badge: number, conn: number, bytes: Uint8Array): number {
    const i = this.openConn(badge, conn, "SEND");
    this.requireTx("SEND");
    if (this.flags(i) & SocketFlag.WRITE_SHUT) {
      throw new TardigradeError(Err.E_NOT_FOUND, `net: SEND on ${conn}: closed for writing`);
    }
    const n = this.sendable(i, bytes.length);
    if (n === 0 || n < bytes.length) this.setFlags(i, this.flags(i) | SocketFlag.WANTS_WRITE);
    if (n === 0) {
      throw new TardigradeError(
        Err.E_WOULD_BLOCK,
        `net: SEND on ${conn}: the window or the transmit ring is full; send again on WRITABLE`,
      );
    }
    const r = this.rec(i);
    const sent = this.state.getF64(r + RecordField.SENT);
    const ok = this.tx!.write(encodeFrame(FrameType.DATA, conn, sent, bytes.subarray(0, n)));
    assert(ok, "Sockets.send", "the ring had room for the frame");
    this.state.setF64(r + RecordField.SENT, sent + n);
    return n;
  }

  /** SHUTDOWN: a FIN after the last byte sent; reading goes on. E_WOULD_BLOCK without ring room. */
  shutdown(badge: number, conn: number): void {
    const i = this.openConn(badge, conn, "SHUTDOWN");
    this.writeFin(i, conn);
  }

  /** CLOSE: a FIN if not sent yet; the socket is nobody's, its inbound bytes dropped. */
  close(badge: number, conn: number): void {
    const i = this.ownedConn(badge, conn, "CLOSE");
    if (this.flags(i) & SocketFlag.GONE) {
      this.state.fill(this.rec(i), RecordField.BYTES);
      return;
    }
    this.writeFin(i, conn);
    const r = this.rec(i);
    this.table.setConsumed(i, this.state.getF64(r + RecordField.RECEIVED));
    this.state.setU32(r + RecordField.OWNER, 0);
    this.state.setU32(r + RecordField.EVENTS, 0);
    this.setFlags(i, (this.flags(i) | SocketFlag.CLOSED) & ~SocketFlag.WANTS_WRITE);
  }

  /** REGISTER: `slot` (a notification in the driver's cspace) is signalled for `badge`'s events. */
  register(badge: number, slot: number): void {
    requireBadge(badge, "REGISTER");
    if (!Number.isInteger(slot) || slot <= 0) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `net: REGISTER slot ${slot}: not a slot`);
    }
    let at = this.clientAt(badge);
    if (at === -1) at = this.clientAt(0);
    if (at === -1) {
      throw new TardigradeError(Err.E_LIMIT, `net: ${CLIENTS_MAX} clients registered already`);
    }
    this.state.setU32(at, badge);
    this.state.setU32(at + 4, slot);
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) {
      if (this.owner(i) === badge && this.events(i) !== 0) this.state.setU32(at + 8, 1);
    }
  }

  /** Forgets `badge`'s notification if it is still `slot` (it turned out not to be one). */
  unregister(badge: number, slot: number): void {
    const at = this.clientAt(badge);
    if (at !== -1 && this.state.getU32(at + 4) === slot) this.state.fill(at, CLIENT_BYTES);
  }

  /** POLL: `badge`'s pending events, cleared (a gone connection's record is freed with its HUP). */
  poll(badge: number): NetEvent[] {
    const out: NetEvent[] = [];
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) {
      const events = this.events(i);
      if (events === 0 || this.owner(i) !== badge) continue;
      const e = this.table.get(i);
      const flags = this.flags(i);
      if (e.kind === NicEntryKind.LISTEN) {
        out.push({ handle: e.port, kind: HandleKind.LISTENER, events });
      } else if (flags & SocketFlag.GONE) {
        out.push({ handle: this.conn(i), kind: HandleKind.CONNECTION, events });
        this.state.fill(this.rec(i), RecordField.BYTES);
        continue;
      } else if (flags & SocketFlag.ACCEPTED) {
        out.push({ handle: e.conn, kind: HandleKind.CONNECTION, events });
      } else continue; // not accepted yet: its events wait for the ACCEPT
      this.state.setU32(this.rec(i) + RecordField.EVENTS, 0);
    }
    return out;
  }

  /** Notification slots owed a signal since the last call (each once); the driver signals them. */
  takeSignals(): number[] {
    const out: number[] = [];
    for (let c = 0; c < CLIENTS_MAX; c++) {
      const at = CLIENTS_AT + c * CLIENT_BYTES;
      if (this.state.getU32(at + 8) === 0) continue;
      this.state.setU32(at + 8, 0);
      out.push(this.state.getU32(at + 4));
    }
    return out;
  }

  // ---- leaves ----

  private rec(i: number): number {
    return i * RecordField.BYTES;
  }
  private owner(i: number): number {
    return this.state.getU32(this.rec(i) + RecordField.OWNER);
  }
  private flags(i: number): number {
    return this.state.getU32(this.rec(i) + RecordField.FLAGS);
  }
  private setFlags(i: number, flags: number): void {
    this.state.setU32(this.rec(i) + RecordField.FLAGS, flags);
  }
  private events(i: number): number {
    return this.state.getU32(this.rec(i) + RecordField.EVENTS);
  }
  private conn(i: number): number {
    return this.state.getU32(this.rec(i) + RecordField.CONN);
  }
  private order(i: number): number {
    return this.state.getF64(this.rec(i) + RecordField.ACCEPT_ORDER);
  }

  /** Adds `events` to entry i and owes its owner a signal. */
  private raise(i: number, events: number): void {
    const r = this.rec(i);
    this.state.setU32(r + RecordField.EVENTS, this.events(i) | events);
    const owner = this.owner(i);
    if (owner !== 0) this.owe(owner);
  }

  private owe(badge: number): void {
    const at = this.clientAt(badge);
    if (at !== -1) this.state.setU32(at + 8, 1);
  }

  /** Byte offset of `badge`'s client entry (0: a free one), or -1. */
  private clientAt(badge: number): number {
    for (let c = 0; c < CLIENTS_MAX; c++) {
      const at = CLIENTS_AT + c * CLIENT_BYTES;
      if (this.state.getU32(at) === badge) return at;
    }
    return -1;
  }

  private connEntry(conn: number): number {
    return this.table.find((e) => e.kind === NicEntryKind.CONN && e.conn === conn);
  }

  private listenEntry(port: number): number {
    return this.table.find((e) => e.kind === NicEntryKind.LISTEN && e.port === port);
  }

  /** A free entry: free in the table, and no gone connection's record waiting there. */
  private freeEntry(): number {
    for (let i = 0; i < NIC_TABLE_ENTRIES; i++) {
      if (this.table.get(i).kind === NicEntryKind.FREE && !(this.flags(i) & SocketFlag.GONE)) {
        return i;
      }
    }
    return -1;
  }

  private checkOwner(i: number, badge: number, what: string): void {
    if (this.owner(i) === badge) return;
    throw new TardigradeError(Err.E_NOT_OWNER, `net: ${what}: another client's socket`);
  }

  /** Entry of accepted connection `conn` owned by `badge`, open or gone (not closed). */
  private ownedConn(badge: number, conn: number, what: string): number {
    let i = this.connEntry(conn);
    if (i === -1) {
      for (let g = 0; g < NIC_TABLE_ENTRIES && i === -1; g++) {
        if ((this.flags(g) & SocketFlag.GONE) && this.conn(g) === conn) i = g;
      }
    }
    const flags = i === -1 ? 0 : this.flags(i);
    if (i === -1 || (flags & SocketFlag.CLOSED) || !(flags & SocketFlag.ACCEPTED)) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `net: ${what} on ${conn}: no such connection (closed, or not accepted)`,
      );
    }
    this.checkOwner(i, badge, `${what} on ${conn}`);
    return i;
  }

  /** Like {@link ownedConn}, and the switch still has it. */
  private openConn(badge: number, conn: number, what: string): number {
    const i = this.ownedConn(badge, conn, what);
    if (this.flags(i) & SocketFlag.GONE) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `net: ${what} on ${conn}: the peer is gone; close it`,
      );
    }
    return i;
  }

  private requireTx(what: string): void {
    if (this.tx) return;
    throw new TardigradeError(Err.E_NOT_FOUND, `net: ${what}: no NIC transmit ring`);
  }

  /** How many of `want` bytes entry i may send now: window, ring room, one frame. */
  private sendable(i: number, want: number): number {
    if (!this.tx) return 0;
    const r = this.rec(i);
    const window = this.state.getF64(r + RecordField.DELIVERED) + TX_WINDOW_BYTES -
      this.state.getF64(r + RecordField.SENT);
    const ring = this.tx.room() - FRAME_HEADER_BYTES;
    return Math.max(0, Math.min(want, window, ring, FRAME_DATA_MAX));
  }

  /** A FIN at `sent` unless one went already; E_WOULD_BLOCK without ring room. */
  private writeFin(i: number, conn: number): void {
    if (this.flags(i) & SocketFlag.WRITE_SHUT) return;
    this.requireTx("FIN");
    const sent = this.state.getF64(this.rec(i) + RecordField.SENT);
    if (!this.tx!.write(encodeFrame(FrameType.FIN, conn, sent))) {
      // WRITABLE comes once the ring has room: a closing owner has no other event to wait for.
      this.setFlags(i, this.flags(i) | SocketFlag.WANTS_WRITE);
      throw new TardigradeError(
        Err.E_WOULD_BLOCK,
        `net: no transmit ring room for the FIN of ${conn}; close again on WRITABLE`,
      );
    }
    this.setFlags(i, (this.flags(i) | SocketFlag.WRITE_SHUT) & ~SocketFlag.WANTS_WRITE);
  }

  private writeInbound(i: number, off: number, data: Uint8Array): void {
    for (let k = 0; k < data.length;) {
      const at = (off + k) % RX_WINDOW_BYTES;
      const n = Math.min(data.length - k, RX_WINDOW_BYTES - at);
      this.inbound.write(i * RX_WINDOW_BYTES + at, data.subarray(k, k + n));
      k += n;
    }
  }

  private readInbound(i: number, off: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let k = 0; k < n;) {
      const at = (off + k) % RX_WINDOW_BYTES;
      const m = Math.min(n - k, RX_WINDOW_BYTES - at);
      out.set(this.inbound.read(i * RX_WINDOW_BYTES + at, m), k);
      k += m;
    }
    return out;
  }
}
