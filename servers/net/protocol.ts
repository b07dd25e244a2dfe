/**
 * The network driver's protocol and client stub: sockets over IPC
 * (docs/ARCHITECTURE.md "Network"). A listener is named by its port, a
 * connection by the switch's connection id. The caller is who its badge
 * says: a socket is its listener's client's, and another client's calls
 * on it are E_NOT_OWNER.
 *
 * | label     | request                      | reply                                          |
 * |-----------|------------------------------|------------------------------------------------|
 * | LISTEN    | u32 port                     | empty                                          |
 * | ACCEPT    | u32 port                     | u32 conn (the oldest waiting)                  |
 * | RECV      | u32 conn, u32 max            | u8 eof, then up to min(max, 1007) bytes        |
 * | SEND      | u32 conn, bytes              | u32 bytes taken (the rest: send again)         |
 * | SHUTDOWN  | u32 conn                     | empty (a FIN after the bytes sent)             |
 * | CLOSE     | u32 conn                     | empty (FIN if not yet; the socket is gone)     |
 * | REGISTER  | u32 slot                     | empty (slot: cap_transfer's value)             |
 * | POLL      | empty                        | u32 n, n × (u32 handle, u8 kind, u8 events)    |
 * | RECV_MANY | u32 n, n × u32 conn          | u32 m ≤ n, m × (u32 conn, u8 err, u8 flags,    |
 * |           |                              | u32 len, len bytes)                            |
 * | SEND_MANY | u32 n, n × (u32 conn,        | u32 n, n × (u32 err, u32 bytes taken)          |
 * |           | u32 len, len bytes)          |                                                |
 *
 * The batched calls serve many connections in one round trip, each filling
 * the 1,008-byte payload (servers/runtime/net.ts `recvAll`, `sendAll`).
 * RECV_MANY answers the connections in order while the reply has room (a
 * header and one byte; m < n: ask again for the rest), each with what it
 * has: `err` is 0 or the code RECV would have thrown (E_WOULD_BLOCK: nothing
 * yet; E_NOT_FOUND: closed or gone), `flags` EOF 1 (RECV's eof), MORE 2
 * (bytes are left after these). SEND_MANY sends each entry as SEND would,
 * in order, and answers each with 0 and the bytes taken (fewer than `len`:
 * wait for WRITABLE) or the code SEND would have thrown (0 taken). One
 * entry's error never fails the call, so no other entry's effect (bytes
 * consumed, bytes sent) goes unanswered. The single calls stay for simple
 * programs (the echo app).
 *
 * POLL kinds: 1 listener (handle = port), 2 connection (handle = conn).
 * Events (bits): READABLE 1, WRITABLE 2, ACCEPTABLE 4, HUP 8. POLL returns
 * and clears the caller's events (edge-triggered: act until E_WOULD_BLOCK).
 * The registered notification is signalled whenever one of the caller's
 * sockets gains an event.
 *
 * Errors: E_WOULD_BLOCK (nothing to accept or receive; the window or the
 * transmit ring is full: retry on the event, or after the next checkpoint
 * for a FIN), E_NOT_FOUND (no NIC; not listening; a connection closed, gone
 * or not accepted), E_NOT_OWNER (another client's socket, or an unbadged
 * caller), E_EXISTS (another client listens on the port), E_LIMIT (every
 * socket or client entry in use), E_BAD_ARGUMENT, E_BAD_MESSAGE.
 *
 * @module
 */

import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../kernel/abi/limits.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { type ClientConnection, unwrap } from "../runtime/ipc.ts";

/** Labels of the network driver's operations (from 16 on, beside STATUS and ECHO). */
export enum NetLabel {
  LISTEN = 16,
  ACCEPT = 17,
  RECV = 18,
  SEND = 19,
  SHUTDOWN = 20,
  CLOSE = 21,
  REGISTER = 22,
  POLL = 23,
  RECV_MANY = 24,
  SEND_MANY = 25,
}

/** Most bytes one RECV returns (its reply is a u8 EOF flag, then the bytes). */
export const RECV_BYTES_MAX = MESSAGE_PAYLOAD_BYTES_MAX - 1;
/** Most bytes one SEND carries (after its u32 connection id). */
export const SEND_BYTES_MAX = MESSAGE_PAYLOAD_BYTES_MAX - 4;

/** Bytes of one POLL entry: u32 handle, u8 kind, u8 events. */
export const POLL_ENTRY_BYTES = 6;

/** Bytes of a RECV_MANY reply entry's header: u32 conn, u8 err, u8 flags, u32 len. */
export const RECV_MANY_ENTRY_BYTES = 10;
/** Bytes of a SEND_MANY request entry's header: u32 conn, u32 len. */
export const SEND_MANY_ENTRY_BYTES = 8;
/** Bytes of a batched call's count, before its entries. */
export const MANY_COUNT_BYTES = 4;

/** RECV_MANY entry flags (bits). */
export enum RecvFlag {
  /** The client's last byte has been received (RECV's eof). */
  EOF = 1,
  /** Bytes are left after these: receive again. */
  MORE = 2,
}

/** Readiness events, as POLL reports them (bits). */
export enum SocketEvent {
  READABLE = 1,
  WRITABLE = 2,
  ACCEPTABLE = 4,
  HUP = 8,
}

/** What a POLL entry names. */
export enum HandleKind {
  /** A listening socket; its handle is the port. */
  LISTENER = 1,
  /** A connection; its handle is the switch's connection id. */
  CONNECTION = 2,
}

/** What one RECV returned. */
export interface Received {
  /** True when the client's last byte has been received: nothing more will come. */
  eof: boolean;
  bytes: Uint8Array;
}

/** One RECV_MANY entry: what one connection had. */
export interface ReceivedMany {
  conn: number;
  /** Err.OK, or the code RECV would have thrown (E_WOULD_BLOCK: nothing yet). */
  err: number;
  /** True when the client's last byte has been received. */
  eof: boolean;
  /** True when bytes are left after these. */
  more: boolean;
  bytes: Uint8Array;
}

/** One SEND_MANY entry's answer. */
export interface SentMany {
  /** Err.OK, or the code SEND would have thrown. */
  err: number;
  /** Bytes taken (0 on an error). */
  taken: number;
}

/** One POLL entry. */
export interface NetEvent {
  /** The port of a listener, the connection id of a connection. */
  handle: number;
  kind: HandleKind;
  /** {@link SocketEvent} bits. */
  events: number;
}

/** Encodes a POLL reply. */
export function encodePoll(entries: NetEvent[]): Uint8Array {
  const w = new PayloadWriter(4 + entries.length * POLL_ENTRY_BYTES).u32(entries.length);
  for (const e of entries) w.u32(e.handle).bytes(Uint8Array.of(e.kind, e.events));
  return w.done();
}

/** Decodes a POLL reply (E_BAD_MESSAGE if it is not one). */
export function decodePoll(payload: Uint8Array): NetEvent[] {
  const r = new PayloadReader(payload, "net POLL reply");
  const n = r.u32();
  const out: NetEvent[] = [];
  for (let i = 0; i < n; i++) {
    const handle = r.u32();
    const [kind, events] = r.bytes(2);
    out.push({ handle, kind: kind as HandleKind, events });
  }
  r.end();
  return out;
}

/** Encodes a RECV_MANY request. */
export function encodeRecvMany(conns: number[]): Uint8Array {
  const w = new PayloadWriter(MANY_COUNT_BYTES + 4 * conns.length).u32(conns.length);
  for (const c of conns) w.u32(c);
  return w.done();
}

/** Decodes a RECV_MANY request (E_BAD_MESSAGE if it is not one). */
export function decodeRecvMany(payload: Uint8Array): number[] {
  const r = new PayloadReader(payload, "net RECV_MANY");
  const n = r.u32();
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32());
  r.end();
  return out;
}

/** Encodes a RECV_MANY reply (the entries must fit one payload). */
export function encodeRecvManyReply(entries: ReceivedMany[]): Uint8Array {
  const w = new PayloadWriter().u32(entries.length);
  for (const e of entries) {
    const flags = (e.eof ? RecvFlag.EOF : 0) | (e.more ? RecvFlag.MORE : 0);
    w.u32(e.conn).bytes(Uint8Array.of(e.err, flags)).u32(e.bytes.length).bytes(e.bytes);
  }
  return w.done();
}

/** Decodes a RECV_MANY reply (E_BAD_MESSAGE if it is not one). */
export function decodeRecvManyReply(payload: Uint8Array): ReceivedMany[] {
  const r = new PayloadReader(payload, "net RECV_MANY reply");
  const n = r.u32();
  const out: ReceivedMany[] = [];
  for (let i = 0; i < n; i++) {
    const conn = r.u32();
    const [err, flags] = r.bytes(2);
    const bytes = r.bytes(r.u32()).slice();
    out.push({
      conn,
      err,
      eof: (flags & RecvFlag.EOF) !== 0,
      more: (flags & RecvFlag.MORE) !== 0,
      bytes,
    });
  }
  r.end();
  return out;
}

/** Encodes a SEND_MANY request (the entries must fit one payload). */
export function encodeSendMany(items: Array<{ conn: number; bytes: Uint8Array }>): Uint8Array {
  const w = new PayloadWriter().u32(items.length);
  for (const it of items) w.u32(it.conn).u32(it.bytes.length).bytes(it.bytes);
  return w.done();
}

/** Decodes a SEND_MANY request (E_BAD_MESSAGE if it is not one); the bytes are views. */
export function decodeSendMany(payload: Uint8Array): Array<{ conn: number; bytes: Uint8Array }> {
  const r = new PayloadReader(payload, "net SEND_MANY");
  const n = r.u32();
  const out: Array<{ conn: number; bytes: Uint8Array }> = [];
  for (let i = 0; i < n; i++) {
    const conn = r.u32();
    out.push({ conn, bytes: r.bytes(r.u32()) });
  }
  r.end();
  return out;
}

/** Encodes a SEND_MANY reply. */
export function encodeSendManyReply(entries: SentMany[]): Uint8Array {
  const w = new PayloadWriter(MANY_COUNT_BYTES + 8 * entries.length).u32(entries.length);
  for (const e of entries) w.u32(e.err).u32(e.taken);
  return w.done();
}

/** Decodes a SEND_MANY reply (E_BAD_MESSAGE if it is not one). */
export function decodeSendManyReply(payload: Uint8Array): SentMany[] {
  const r = new PayloadReader(payload, "net SEND_MANY reply");
  const n = r.u32();
  const out: SentMany[] = [];
  for (let i = 0; i < n; i++) out.push({ err: r.u32(), taken: r.u32() });
  r.end();
  return out;
}

/** The network driver, asynchronous: one method per label. */
export class NetClient {
  constructor(readonly conn: ClientConnection) {}

  /** Listens on `port` (again from the same client: fine). */
  async listen(port: number): Promise<void> {
    await this.call(NetLabel.LISTEN, u32(port), "net LISTEN");
  }

  /** The oldest connection waiting on `port` (E_WOULD_BLOCK if none). */
  async accept(port: number): Promise<number> {
    return readU32(await this.call(NetLabel.ACCEPT, u32(port), "net ACCEPT"), "net ACCEPT");
  }

  /** Up to `max` received bytes of `conn`, and whether EOF follows them (E_WOULD_BLOCK if none). */
  async recv(conn: number, max: number): Promise<Received> {
    const req = new PayloadWriter(8).u32(conn).u32(max).done();
    const r = new PayloadReader(await this.call(NetLabel.RECV, req, "net RECV"), "net RECV");
    const [eof] = r.bytes(1);
    return { eof: eof !== 0, bytes: r.rest().slice() };
  }

  /** Sends what fits of `bytes` on `conn`; returns how many it took (E_WOULD_BLOCK if none). */
  async send(conn: number, bytes: Uint8Array): Promise<number> {
    const req = new PayloadWriter(4 + bytes.length).u32(conn).bytes(bytes).done();
    return readU32(await this.call(NetLabel.SEND, req, "net SEND"), "net SEND");
  }

  /** What each of `conns` has, in order, as far as one reply holds (see RECV_MANY). */
  async recvMany(conns: number[]): Promise<ReceivedMany[]> {
    const reply = await this.call(NetLabel.RECV_MANY, encodeRecvMany(conns), "net RECV_MANY");
    return decodeRecvManyReply(reply);
  }

  /** Sends each item as SEND would; one answer per item (see SEND_MANY). */
  async sendMany(items: Array<{ conn: number; bytes: Uint8Array }>): Promise<SentMany[]> {
    const reply = await this.call(NetLabel.SEND_MANY, encodeSendMany(items), "net SEND_MANY");
    return decodeSendManyReply(reply);
  }

  /** Ends `conn`'s outbound stream after what was sent; receiving goes on. */
  async shutdown(conn: number): Promise<void> {
    await this.call(NetLabel.SHUTDOWN, u32(conn), "net SHUTDOWN");
  }

  /** Closes `conn` (a FIN after what was sent, unless SHUTDOWN sent it). */
  async close(conn: number): Promise<void> {
    await this.call(NetLabel.CLOSE, u32(conn), "net CLOSE");
  }

  /** Registers the notification the driver holds in `slot` (cap_transfer's value) for events. */
  async register(slot: number): Promise<void> {
    await this.call(NetLabel.REGISTER, u32(slot), "net REGISTER");
  }

  /** This client's sockets' events since the last POLL (and clears them). */
  async poll(): Promise<NetEvent[]> {
    return decodePoll(await this.call(NetLabel.POLL, new Uint8Array(0), "net POLL"));
  }

  private async call(label: NetLabel, req: Uint8Array, what: string): Promise<Uint8Array> {
    return unwrap(await this.conn.call(label, req), what);
  }
}

function u32(v: number): Uint8Array {
  return new PayloadWriter(4).u32(v).done();
}

/** Decodes a reply that is one u32 (E_BAD_MESSAGE otherwise). */
function readU32(payload: Uint8Array, what: string): number {
  const r = new PayloadReader(payload, what);
  const v = r.u32();
  r.end();
  return v;
}
