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
import { type HandleKind, NetClient, type Received } from "../net/protocol.ts";
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

/** Name in the slot record of the driver's slot for this program's notification. */
const DRIVER_SLOT_NAME = "net:driver-slot";

/** True for E_WOULD_BLOCK: the caller waits for the next event. */
function wouldBlock(e: unknown): boolean {
  return e instanceof TardigradeError && e.code === Err.E_WOULD_BLOCK;
}

/** A program's sockets: thin wrappers over {@link NetClient}, and the event loop. */
export class Sockets {
  private constructor(readonly client: NetClient) {}

  /** Connects to the driver, registers for events and runs `handler` on each (see the module doc). */
  static async open(ctx: Context, handler: SocketHandler): Promise<Sockets> {
    const conn = await lastingConnection(ctx, CapName.NET);
    const net = new Sockets(new NetClient(conn));
    const notif = await lastingNotification(ctx, "net-events");
    let driverSlot = ctx.names.get(DRIVER_SLOT_NAME);
    if (notif.created || driverSlot === undefined) {
      driverSlot = await ctx.sys.capTransfer(conn.slot, notif.slot, Right.SEND);
      ctx.names.remember(DRIVER_SLOT_NAME, driverSlot);
    }
    await net.client.register(driverSlot);
    // A signal while a drain runs queues one more (a second POLL), never a second drain beside it.
    let queued: Promise<void> | undefined;
    const drain = () =>
      queued ??= net.exclusive(async () => {
        queued = undefined;
        for (const e of await net.client.poll()) await handler(e.handle, e.kind, e.events, net);
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

  /** Ends `conn`'s outbound stream; false when the ring has no room yet (try again later). */
  async shutdown(conn: number): Promise<boolean> {
    try {
      await this.client.shutdown(conn);
      return true;
    } catch (e) {
      if (wouldBlock(e)) return false;
      throw e;
    }
  }

  /** Closes `conn`; false when the ring has no room for its FIN yet (try again later). */
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
