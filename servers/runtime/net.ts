/**
 * Sockets for programs: the client side of the network driver
 * (servers/net/protocol.ts), with readiness delivered as events.
 *
 * {@link Sockets.open} connects to "net" (the connection kept over
 * resumes, `lastingConnection`), makes the program's event notification
 * once (kept by name in its slot record, `lastingNotification`), hands it
 * to the driver (cap_transfer with SEND; the driver's slot for it is kept
 * in the record too) and REGISTERs it at every start (the same slot again
 * is harmless). From then on each signal is one step: POLL, and the
 * program's handler for each entry, in order. One POLL also runs at start:
 * a resumed program may have events that were signalled before the cut.
 *
 * Events are edge-triggered: on READABLE receive until `recv` says
 * nothing (undefined), on ACCEPTABLE accept until undefined, on WRITABLE
 * send what was kept back.
 *
 * @example
 * ```ts
 * const net = await Sockets.open(ctx, async (handle, kind, events, net) => { ... });
 * await net.listen(7007);
 * ```
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Right } from "../../kernel/abi/rights.ts";
import {
  type HandleKind,
  MANY_COUNT_BYTES,
  NetClient,
  type NetEvent,
  type Received,
  type ReceivedMany,
  SEND_MANY_ENTRY_BYTES,
  type SentMany,
} from "../net/protocol.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../kernel/abi/limits.ts";
import { CapName } from "./names.ts";
import type { Context } from "./program.ts";
import { lastingConnection, lastingNotification } from "./service.ts";

/**
 * The program's handler: one call per POLL entry, with the sockets to act
 * on (the first calls come before `open` has returned). A promise it
 * returns is part of the step.
 */
export type SocketHandler = (
  handle: number,
  kind: HandleKind,
  events: number,
  net: Sockets,
) => unknown;

/**
 * A program's handler for a whole POLL: every entry at once, so that it
 * can serve many connections with the batched calls ({@link Sockets.recvAll},
 * {@link Sockets.sendAll}). A promise it returns is part of the step.
 */
export type SocketBatchHandler = (events: NetEvent[], net: Sockets) => unknown;

/** What {@link Sockets.recvAll} got from one connection. */
export interface Gathered {
  /** Err.OK, or the code RECV would have thrown (E_WOULD_BLOCK: nothing was there). */
  err: number;
  eof: boolean;
  bytes: Uint8Array;
}

/** Name in the slot record of the driver's slot for this program's notification. */
const DRIVER_SLOT_NAME = "net:driver-slot";

/** Connections one RECV_MANY asks about at most (each answer needs a header and a byte). */
const RECV_MANY_CONNS_MAX = Math.floor(
  (MESSAGE_PAYLOAD_BYTES_MAX - MANY_COUNT_BYTES) / 4,
);

/** True for E_WOULD_BLOCK: the caller waits for the next event. */
function wouldBlock(e: unknown): boolean {
  return e instanceof TardigradeError && e.code === Err.E_WOULD_BLOCK;
}

/** A program's sockets: thin wrappers over {@link NetClient}, and the event loop. */
export class Sockets {
  private constructor(readonly client: NetClient, private readonly ctx: Context) {}

  /** The program's event notification (its slot), once open. */
  private notifSlot = 0;

  /** Connects to the driver, registers for events and runs `handler` on each (see the module doc). */
  static open(ctx: Context, handler: SocketHandler): Promise<Sockets> {
    return Sockets.openBatch(ctx, async (events, net) => {
      for (const e of events) await handler(e.handle, e.kind, e.events, net);
    });
  }

  /** Like {@link open}, but `handler` gets each POLL's entries at once. */
  static async openBatch(ctx: Context, handler: SocketBatchHandler): Promise<Sockets> {
    const conn = await lastingConnection(ctx, CapName.NET);
    const net = new Sockets(new NetClient(conn), ctx);
    const notif = await lastingNotification(ctx, "net-events");
    let driverSlot = ctx.names.get(DRIVER_SLOT_NAME);
    if (notif.created || driverSlot === undefined) {
      driverSlot = await ctx.sys.capTransfer(conn.slot, notif.slot, Right.SEND);
      ctx.names.remember(DRIVER_SLOT_NAME, driverSlot);
    }
    await net.client.register(driverSlot);
    net.notifSlot = notif.slot;
    // A signal while a drain runs queues one more (a second POLL), never a second drain beside it.
    let queued: Promise<void> | undefined;
    const drain = () =>
      queued ??= net.exclusive(async () => {
        queued = undefined;
        await handler(await net.client.poll(), net);
      });
    await ctx.onNotification(notif.slot, drain);
    await drain();
    return net;
  }

  /** The end of the last exclusive run. */
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `fn` once every earlier handler run and exclusive call has
   * settled. Notification handlers of a program may run side by side (each
   * is a step of its own, awaiting calls), so socket logic that reads and
   * writes a connection's state goes through here, one run at a time; the
   * handler runs always do.
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  /**
   * Signals the program's own notification: one more POLL and handler run
   * follows, in a step of its own (a checkpoint may fall between). For work
   * a handler left on purpose, e.g. output it bounded per step.
   */
  async again(): Promise<void> {
    await this.ctx.sys.notificationSignal(this.notifSlot);
  }

  /**
   * Receives from every one of `conns` what the driver has (RECV_MANY, as
   * few calls as the replies need: each fills a payload), up to `maxEach`
   * bytes per connection. One answer per connection asked.
   */
  async recvAll(conns: number[], maxEach = Infinity): Promise<Map<number, Gathered>> {
    const got = new Map<number, { err: number; eof: boolean; parts: Uint8Array[]; n: number }>();
    let ask = [...new Set(conns)];
    while (ask.length > 0) {
      const replies: ReceivedMany[] = await this.client.recvMany(ask.slice(0, RECV_MANY_CONNS_MAX));
      const next: number[] = [];
      const answered = new Set<number>();
      for (const r of replies) {
        answered.add(r.conn);
        let g = got.get(r.conn);
        if (!g) got.set(r.conn, g = { err: r.err, eof: false, parts: [], n: 0 });
        // A later E_WOULD_BLOCK after bytes is just the end of them.
        if (g.n === 0 || r.err === Err.OK) g.err = r.err;
        if (r.bytes.length > 0) g.parts.push(r.bytes);
        g.n += r.bytes.length;
        g.eof ||= r.eof;
        if (r.more && !r.eof && r.err === Err.OK && g.n < maxEach) next.push(r.conn);
      }
      // Those the reply had no room for, then those with more to give.
      ask = [...ask.filter((c) => !answered.has(c)), ...next];
    }
    const out = new Map<number, Gathered>();
    for (const [conn, g] of got) {
      const bytes = g.parts.length === 1 ? g.parts[0] : new Uint8Array(g.n);
      if (g.parts.length > 1) {
        let at = 0;
        for (const p of g.parts) {
          bytes.set(p, at);
          at += p.length;
        }
      }
      out.set(conn, { err: g.err, eof: g.eof, bytes });
    }
    return out;
  }

  /**
   * Sends each item's bytes (SEND_MANY, packed to fill each payload) until
   * the driver takes less than offered for it (its window or the ring is
   * full: WRITABLE follows). The answer per item: the bytes taken, and the
   * error code SEND would have thrown (Err.OK when none).
   */
  async sendAll(items: Array<{ conn: number; bytes: Uint8Array }>): Promise<SentMany[]> {
    const out: SentMany[] = items.map(() => ({ err: Err.OK, taken: 0 }));
    const open = new Set(items.map((_, i) => i).filter((i) => items[i].bytes.length > 0));
    while (open.size > 0) {
      const batch: Array<{ item: number; conn: number; bytes: Uint8Array }> = [];
      let room = MESSAGE_PAYLOAD_BYTES_MAX - MANY_COUNT_BYTES;
      for (const i of open) {
        if (room <= SEND_MANY_ENTRY_BYTES) break;
        // One piece per connection per call: a short answer says the rest would not be taken.
        const { conn, bytes } = items[i], at = out[i].taken;
        const n = Math.min(bytes.length - at, room - SEND_MANY_ENTRY_BYTES);
        batch.push({ item: i, conn, bytes: bytes.subarray(at, at + n) });
        room -= SEND_MANY_ENTRY_BYTES + n;
      }
      const answers = await this.client.sendMany(batch);
      batch.forEach((b, k) => {
        const a = answers[k], o = out[b.item];
        o.taken += a.taken;
        if (a.err !== Err.OK && a.err !== Err.E_WOULD_BLOCK) o.err = a.err;
        const done = o.taken === items[b.item].bytes.length;
        if (done || a.err !== Err.OK || a.taken < b.bytes.length) open.delete(b.item);
      });
    }
    return out;
  }

  /** Listens on `port`. */
  listen(port: number): Promise<void> {
    return this.client.listen(port);
  }

  /** The oldest connection waiting on `port`, or undefined when none waits. */
  async accept(port: number): Promise<number | undefined> {
    try {
      return await this.client.accept(port);
    } catch (e) {
      if (wouldBlock(e)) return undefined;
      throw e;
    }
  }

  /** Up to `max` bytes of `conn` and whether EOF follows; undefined when nothing is there yet. */
  async recv(conn: number, max: number): Promise<Received | undefined> {
    try {
      return await this.client.recv(conn, max);
    } catch (e) {
      if (wouldBlock(e)) return undefined;
      throw e;
    }
  }

  /** Sends what fits of `bytes`; returns how many bytes it took (0: wait for WRITABLE). */
  async send(conn: number, bytes: Uint8Array): Promise<number> {
    try {
      return await this.client.send(conn, bytes);
    } catch (e) {
      if (wouldBlock(e)) return 0;
      throw e;
    }
  }

  /** Ends `conn`'s outbound stream; false when the ring has no room yet (try again on WRITABLE). */
  async shutdown(conn: number): Promise<boolean> {
    try {
      await this.client.shutdown(conn);
      return true;
    } catch (e) {
      if (wouldBlock(e)) return false;
      throw e;
    }
  }

  /** Closes `conn`; false when the ring has no room for its FIN yet (try again on WRITABLE). */
  async close(conn: number): Promise<boolean> {
    try {
      await this.client.close(conn);
      return true;
    } catch (e) {
      if (wouldBlock(e)) return false;
      throw e;
    }
  }
}
