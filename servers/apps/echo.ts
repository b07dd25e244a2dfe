/**
 * The echo app: a line-numbered echo on a TCP port (args `port`, default
 * {@link ECHO_PORT_DEFAULT}; `deno task boot --net --apps echo
 * [--echo-port N]`). For each line a connection sends it replies
 * `<n> <line>\n` (servers/apps/echo_lines.ts), n counting per connection;
 * at the client's EOF it replies to a partial line too, then closes the
 * connection after its last reply.
 *
 * Everything a connection needs lives in a record of the app's lasting PMO,
 * written in the step that received the bytes: the line number, the
 * partial line, the replies not yet sent. It receives only while no reply
 * is pending, so a client that does not read holds only its own
 * connection back; what SEND did not take is sent on WRITABLE. Across a
 * crash the numbering goes on where the committed state was, and the
 * switch re-sends what that state had not consumed.
 *
 * Record layout ({@link Rec}): u32 connection (0: free), u32 flags (EOF
 * seen), f64 next line number, u32 partial length, u32 pending start, u32
 * pending end, then the partial line, then the pending replies.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { NIC_TABLE_ENTRIES } from "../../kernel/abi/nic_rx.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { HandleKind, RECV_BYTES_MAX, SEND_BYTES_MAX, SocketEvent } from "../net/protocol.ts";
import { Sockets } from "../runtime/net.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingPmo } from "../runtime/service.ts";
import { ECHO_LINE_BYTES_MAX, numberLines } from "./echo_lines.ts";

/** The port when args give none. */
export const ECHO_PORT_DEFAULT = 7007;

/** Byte offsets within a connection's record. */
enum Rec {
  CONN = 0,
  FLAGS = 4,
  NEXT = 8,
  PARTIAL_LENGTH = 16,
  PENDING_START = 20,
  PENDING_END = 24,
  PARTIAL = 32,
  PENDING = PARTIAL + ECHO_LINE_BYTES_MAX,
  /** Bytes of one record. */
  BYTES = 8 * PAGE_BYTES,
}

/** Flag: the client's EOF was received; close once the replies are out. */
const FLAG_EOF = 1;
/** Connections the app serves at once: as many as the driver's table holds. */
const CONNS_MAX = NIC_TABLE_ENTRIES;
/** Most reply bytes one receive can make: every byte, plus a number and a space per line. */
const PENDING_BYTES_MAX = ECHO_LINE_BYTES_MAX + RECV_BYTES_MAX +
  (RECV_BYTES_MAX + 2 + (ECHO_LINE_BYTES_MAX + RECV_BYTES_MAX) / ECHO_LINE_BYTES_MAX) * 18;

assert(Rec.PENDING + PENDING_BYTES_MAX <= Rec.BYTES, "echo", "a receive's replies fit a record");

/** The connections' records, in the app's lasting PMO. */
class Conns {
  constructor(readonly mem: PersistentMemory) {}

  /** Record offset of `conn`, or -1. */
  find(conn: number): number {
    for (let i = 0; i < CONNS_MAX; i++) {
      if (this.mem.getU32(i * Rec.BYTES + Rec.CONN) === conn) return i * Rec.BYTES;
    }
    return -1;
  }

  /** A fresh record for `conn` (numbering from 1), or -1 when all are in use. */
  add(conn: number): number {
    const at = this.find(0);
    if (at === -1) return -1;
    this.mem.fill(at, Rec.PENDING);
    this.mem.setU32(at + Rec.CONN, conn);
    this.mem.setF64(at + Rec.NEXT, 1);
    return at;
  }

  /** Every record in use. */
  used(): number[] {
    const out: number[] = [];
    for (let i = 0; i < CONNS_MAX; i++) {
      if (this.mem.getU32(i * Rec.BYTES + Rec.CONN) !== 0) out.push(i * Rec.BYTES);
    }
    return out;
  }

  free(at: number): void {
    this.mem.fill(at, Rec.PENDING);
  }
}

/** Sends the pending replies of record `at`; false while some are left (wait for WRITABLE). */
async function flush(net: Sockets, conns: Conns, at: number): Promise<boolean> {
  const mem = conns.mem, conn = mem.getU32(at + Rec.CONN);
  const end = mem.getU32(at + Rec.PENDING_END);
  for (let start = mem.getU32(at + Rec.PENDING_START); start < end;) {
    const chunk = mem.read(at + Rec.PENDING + start, Math.min(end - start, SEND_BYTES_MAX));
    const n = await net.send(conn, chunk.slice());
    if (n === 0) return false;
    start += n;
    mem.setU32(at + Rec.PENDING_START, start);
  }
  mem.setU32(at + Rec.PENDING_START, 0);
  mem.setU32(at + Rec.PENDING_END, 0);
  return true;
}

/** Receives and numbers the next bytes of record `at`; false when nothing came. */
async function receive(net: Sockets, conns: Conns, at: number): Promise<boolean> {
  const mem = conns.mem, conn = mem.getU32(at + Rec.CONN);
  const got = await net.recv(conn, RECV_BYTES_MAX);
  if (!got) return false;
  const partial = mem.read(at + Rec.PARTIAL, mem.getU32(at + Rec.PARTIAL_LENGTH)).slice();
  const r = numberLines({ partial, next: mem.getF64(at + Rec.NEXT) }, got.bytes, got.eof);
  assert(r.replies.length <= PENDING_BYTES_MAX, "echo.receive", "replies fit the record");
  mem.write(at + Rec.PENDING, r.replies);
  mem.setU32(at + Rec.PENDING_START, 0);
  mem.setU32(at + Rec.PENDING_END, r.replies.length);
  mem.write(at + Rec.PARTIAL, r.partial);
  mem.setU32(at + Rec.PARTIAL_LENGTH, r.partial.length);
  mem.setF64(at + Rec.NEXT, r.next);
  if (got.eof) mem.setU32(at + Rec.FLAGS, FLAG_EOF);
  return true;
}

/** Moves record `at` on as far as it goes now: replies out, then more in, then the close. */
async function pump(net: Sockets, conns: Conns, at: number): Promise<void> {
  const conn = conns.mem.getU32(at + Rec.CONN);
  try {
    for (;;) {
      if (!(await flush(net, conns, at))) return;
      if (conns.mem.getU32(at + Rec.FLAGS) & FLAG_EOF) {
        if (await net.close(conn)) conns.free(at);
        return;
      }
      if (!(await receive(net, conns, at))) return;
    }
  } catch (e) {
    // Closed or gone under us (the switch forgot it): nothing more to do for it.
    if (!(e instanceof TardigradeError && e.code === Err.E_NOT_FOUND)) throw e;
    conns.free(at);
  }
}

/** Accepts every connection waiting on `port` and serves what each has already. */
async function acceptAll(net: Sockets, conns: Conns, port: number): Promise<void> {
  for (;;) {
    const conn = await net.accept(port);
    if (conn === undefined) return;
    const at = conns.find(conn) !== -1 ? conns.find(conn) : conns.add(conn);
    if (at === -1) await net.close(conn);
    else await pump(net, conns, at);
  }
}

runProgram(async (ctx) => {
  const port = typeof ctx.args.port === "number" ? ctx.args.port : ECHO_PORT_DEFAULT;
  const conns = new Conns(await lastingPmo(ctx, "conns", CONNS_MAX * Rec.BYTES / PAGE_BYTES));
  const net = await Sockets.open(ctx, async (handle, kind, events, net) => {
    if (kind === HandleKind.LISTENER) return acceptAll(net, conns, handle);
    const at = conns.find(handle);
    if (at === -1) return;
    if (events & SocketEvent.HUP) return conns.free(at);
    await pump(net, conns, at);
  });
  await net.listen(port);
  // After a resume: connections waiting for a close or for ring room get no new event.
  await net.exclusive(async () => {
    for (const at of conns.used()) await pump(net, conns, at);
    await acceptAll(net, conns, port);
  });
  ctx.log(`echo: listening on port ${port}`);
});
