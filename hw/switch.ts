/**
 * The switch: the outside world's side of the wire, a process of its own
 * beside the machine, and the one component that outlives a machine crash.
 * `deno run --allow-net=127.0.0.1,unix:LINK hw/switch.ts --link LINK`
 * (tools/net_process.ts starts it with exactly those permissions).
 *
 * Map of this file:
 * - {@link SWITCH_FLAGS}: its flags; {@link parseSwitchArgs} checks them.
 * - {@link SwitchLine}: what it prints, one JSON object a line.
 * - {@link Switch}: the TCP listeners (one per port the machine's programs
 *   listen on, on 127.0.0.1, the same number as inside), each client
 *   connection's two streams, and the machine link (kernel/abi/net_link.ts).
 *
 * Inbound: every byte a client sends gets an offset in its stream and is
 * kept until the machine ACKs it (consumed by a committed checkpoint). The
 * switch sends a connection's bytes only up to its last ACK plus
 * {@link RX_WINDOW_BYTES}, and the client's FIN once every byte before it is
 * sent. When a machine comes up on the link (HELLO) it lists the
 * connections its committed state holds, each with how far it consumed
 * (SYNC, which counts as an ACK); the switch sends the rest within the
 * window, OPENs the connections the machine does not know (they were opened
 * while it was down, or before its state covered them) and says GONE for
 * those it does not know itself. A client with {@link INBOUND_HELD_MAX}
 * bytes the machine has not ACKed is not read from until it does (the
 * switch holds a bounded amount; TCP's own window holds the client back).
 *
 * Outbound: a DATA frame carries its stream offset; bytes below what was
 * already delivered are dropped, so a tail the machine re-sends after a
 * resume reaches the client once. After each batch written to the client
 * the switch ACKs the delivered offset (the machine sends at most
 * {@link TX_WINDOW_BYTES} beyond it), and again at every resync. A FIN from
 * the machine closes the client's connection once every byte before it is
 * delivered; the switch then forgets the connection and says GONE.
 *
 * Limits: at most `--max-connections` clients at once (one more is closed
 * at once); with `--hold-ms`, a client that came while no machine was
 * synced and is not OPENed to one in time is closed, having been sent
 * nothing. Garbage on the link drops the link (the machine links again and
 * re-syncs); clients never notice the machine going away: their bytes wait
 * here, and they see only a pause.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { FlagTable } from "./flags.ts";
import {
  concatBytes,
  dataFrames,
  encodeFrame,
  FrameReader,
  FrameType,
  type LinkFrame,
  RX_WINDOW_BYTES,
  TX_WINDOW_BYTES,
  writeAll,
} from "../kernel/abi/net_link.ts";

/** The switch's flags. */
export const SWITCH_FLAGS = {
  link: {
    type: "string",
    arg: "PATH",
    help: "the Unix socket the machine's NIC connects to",
  },
  "max-connections": {
    type: "string",
    arg: "N",
    default: "256",
    help: "client connections open at once; one more is accepted and closed at once",
  },
  "hold-ms": {
    type: "string",
    arg: "N",
    default: "0",
    help: "close a client that came while no machine was synced and is not opened to one " +
      "after N ms (0: wait for ever)",
  },
} as const satisfies FlagTable;

/** One line of switch output. */
export type SwitchLine =
  | { t: "log"; text: string }
  /** The switch listens on the link socket. */
  | { t: "link-ready"; path: string }
  /** A client can now reach `port` on 127.0.0.1 (printed once per port). */
  | { t: "listening"; port: number }
  /** A machine came up on the link (`up`) or went away. */
  | { t: "machine"; up: boolean }
  /** The switch closed client connection `conn`, for the reason `why`. */
  | { t: "closed"; conn: number; why: string }
  /** A protocol violation the switch saw (must never happen). */
  | { t: "violation"; text: string };

/** Inbound bytes of one connection the switch holds unACKed before it stops reading the client. */
export const INBOUND_HELD_MAX = 1024 * 1024;

/** The switch's limits, from its flags. */
export interface SwitchLimits {
  /** Client connections open at once. */
  maxConnections: number;
  /** How long a client that came while no machine was synced waits for an OPEN (0: for ever). */
  holdMs: number;
}

const encoder = new TextEncoder();

function say(line: SwitchLine): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(line) + "\n"));
}

/** One client connection's state in the switch. */
interface Connection {
  id: number;
  port: number;
  tcp: Deno.TcpConn;
  /** Inbound chunks not yet ACKed, in order, contiguous, each at its stream offset. */
  held: Array<{ off: number; bytes: Uint8Array }>;
  /** Stream offset of the first byte held (everything below is ACKed). */
  ackedTo: number;
  /** Inbound bytes sent to the machine on this link since its sync. */
  sentTo: number;
  /** Inbound bytes read from the client so far. */
  inTotal: number;
  /** The client sent its last byte (EOF). */
  clientFin: boolean;
  /** The client's FIN was sent to the machine on this link since its sync. */
  finSent: boolean;
  /** The connection was OPENed to a machine (its state may hold it). */
  opened: boolean;
  /** Closes the connection if no machine OPENs it in time (--hold-ms). */
  holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** Outbound bytes written to the client so far. */
  delivered: number;
  /** Outbound bytes to write to the client, in order, each with its stream end. */
  outQueue: Array<{ end: number; bytes: Uint8Array }>;
  /** Stream end of the outbound bytes written or queued. */
  queuedTo: number;
  /** A write batch to the client is under way. */
  writing: boolean;
  /** The machine closed the connection after this many outbound bytes. */
  machineFinAt: number | undefined;
  /** Resolves the reader waiting for room (flow control). */
  wakeReader: (() => void) | undefined;
  closed: boolean;
}

/** Index of the held chunk that holds stream offset `off` (`held.length` if none does). */
function heldIndex(held: Connection["held"], off: number): number {
  let lo = 0;
  let hi = held.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (held[mid].off + held[mid].bytes.length <= off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The switch: TCP listeners, client connections and the machine link. */
export class Switch {
  private readonly conns = new Map<number, Connection>();
  private readonly listeners = new Map<number, Deno.TcpListener>();
  private link: Deno.Conn | undefined;
  /** The machine on the link has been re-synchronised: frames may flow. */
  private synced = false;
  private syncList = new Map<number, number>();
  private linkQueue: Uint8Array[] = [];
  private flushing = false;
  /** Connection ids: this switch's instance in the high 12 bits, a count below. */
  private readonly idBase = (crypto.getRandomValues(new Uint16Array(1))[0] & 0xfff) * 2 ** 20;
  private nextId = 1;

  constructor(
    private readonly linkPath: string,
    private readonly limits: SwitchLimits = { maxConnections: 256, holdMs: 0 },
  ) {}

  /** Listens on the link socket and serves machines one after another, for ever. */
  async run(): Promise<void> {
    try {
      Deno.removeSync(this.linkPath);
    } catch { /* not there */ }
    const server = Deno.listen({ transport: "unix", path: this.linkPath });
    say({ t: "link-ready", path: this.linkPath });
    for await (const link of server) this.serveLink(link);
  }

  /** Serves one machine until its link closes or it sends garbage (a violation: the link drops). */
  private async serveLink(link: Deno.Conn): Promise<void> {
    this.link?.close();
    this.link = link;
    this.synced = false;
    this.linkQueue = [];
    const reader = new FrameReader();
    const buf = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await link.read(buf);
        if (n === null || this.link !== link) break;
        let frames: LinkFrame[];
        try {
          frames = reader.push(buf.subarray(0, n));
        } catch (e) {
          say({ t: "violation", text: `switch: dropping the link: ${(e as Error).message}` });
          break;
        }
        for (const f of frames) this.onFrame(f);
      }
    } catch (e) {
      say({ t: "log", text: `switch: link closed: ${(e as Error).message}` });
    }
    if (this.link === link) {
      this.link = undefined;
      this.synced = false;
      say({ t: "machine", up: false });
    }
    try {
      link.close();
    } catch { /* closed */ }
  }

  private onFrame(f: LinkFrame): void {
    switch (f.type) {
      case FrameType.HELLO:
        this.synced = false;
        this.syncList = new Map();
        return say({ t: "machine", up: true });
      case FrameType.LISTEN:
        return this.listen(f.port);
      case FrameType.SYNC:
        this.syncList.set(f.conn, f.off);
        return;
      case FrameType.SYNC_END:
        return this.resync();
      case FrameType.ACK:
        return this.ack(f.conn, f.off);
      case FrameType.DATA:
        return this.deliver(f.conn, f.off, f.data);
      case FrameType.FIN:
        return this.machineFin(f.conn, f.off);
      default:
        say({ t: "violation", text: `switch: frame type ${f.type} does not come from a machine` });
    }
  }

  private listen(port: number): void {
    if (this.listeners.has(port)) return;
    let l: Deno.TcpListener;
    try {
      l = Deno.listen({ hostname: "127.0.0.1", port });
    } catch (e) {
      return say({ t: "log", text: `switch: cannot listen on 127.0.0.1:${port}: ${e}` });
    }
    this.listeners.set(port, l);
    say({ t: "listening", port });
    (async () => {
      for await (const tcp of l) this.accept(port, tcp);
    })();
  }

  /** A new client: refused past --max-connections, OPENed if a machine is synced, else held. */
  private accept(port: number, tcp: Deno.TcpConn): void {
    const id = this.idBase + this.nextId++;
    if (this.conns.size >= this.limits.maxConnections) {
      try {
        tcp.close();
      } catch { /* closed */ }
      const why =
        `${this.conns.size} connections open (--max-connections ${this.limits.maxConnections})`;
      return say({ t: "closed", conn: id, why });
    }
    const c: Connection = {
      id,
      port,
      tcp,
      held: [],
      ackedTo: 0,
      sentTo: 0,
      inTotal: 0,
      clientFin: false,
      finSent: false,
      opened: false,
      holdTimer: undefined,
      delivered: 0,
      outQueue: [],
      queuedTo: 0,
      writing: false,
      machineFinAt: undefined,
      wakeReader: undefined,
      closed: false,
    };
    this.conns.set(c.id, c);
    if (this.synced) {
      this.open(c);
    } else if (this.limits.holdMs > 0) {
      c.holdTimer = setTimeout(() => {
        if (!c.opened && !c.closed) {
          this.close(c, `no machine opened it within ${this.limits.holdMs} ms (--hold-ms)`);
        }
      }, this.limits.holdMs);
    }
    this.readClient(c);
  }

  /** OPENs `c` to the synced machine; its inbound stream goes from offset 0. */
  private open(c: Connection): void {
    clearTimeout(c.holdTimer);
    c.opened = true;
    if (c.ackedTo > 0) {
      say({
        t: "violation",
        text: `switch: connection ${c.id} had ${c.ackedTo} bytes ACKed, but the machine's ` +
          `committed state does not hold it`,
      });
    }
    this.send(encodeFrame(FrameType.OPEN, c.id, 0, undefined, c.port));
    c.sentTo = c.ackedTo;
    c.finSent = false;
  }

  private async readClient(c: Connection): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        while (c.inTotal - c.ackedTo >= INBOUND_HELD_MAX && !c.closed) {
          await new Promise<void>((r) => c.wakeReader = r);
        }
        if (c.closed) return;
        const n = await c.tcp.read(buf);
        if (n === null) break;
        c.held.push({ off: c.inTotal, bytes: buf.slice(0, n) });
        c.inTotal += n;
        this.sendInbound(c);
      }
    } catch { /* reset by the client: its stream ends here */ }
    if (c.closed) return;
    c.clientFin = true;
    this.sendInbound(c);
  }

  /**
   * Sends the machine `c`'s inbound bytes in [sentTo, ackedTo + RX_WINDOW_BYTES)
   * that it has, then the client's FIN once every byte is sent. Only to a synced machine.
   */
  private sendInbound(c: Connection): void {
    if (!this.synced || c.closed) return;
    const limit = Math.min(c.inTotal, c.ackedTo + RX_WINDOW_BYTES);
    for (let i = heldIndex(c.held, c.sentTo); c.sentTo < limit; i++) {
      const { off, bytes } = c.held[i];
      const part = bytes.subarray(c.sentTo - off, limit - off);
      for (const f of dataFrames(c.id, c.sentTo, part)) this.send(f);
      c.sentTo += part.length;
    }
    if (c.clientFin && !c.finSent && c.sentTo === c.inTotal) {
      c.finSent = true;
      this.send(encodeFrame(FrameType.FIN, c.id, c.inTotal));
    }
  }

  /**
   * After a machine's SYNC list: each connection it names is ACKed to its
   * consumed offset and told its delivered one, or GONE if unknown; the rest
   * are OPENed; then SYNC_DONE, and inbound bytes flow within the window.
   */
  private resync(): void {
    for (const [id, consumed] of this.syncList) {
      const c = this.conns.get(id);
      if (!c) {
        this.send(encodeFrame(FrameType.GONE, id));
        continue;
      }
      if (consumed < c.ackedTo) {
        say({
          t: "violation",
          text: `switch: machine consumed ${consumed} of connection ${id}, but ACKed ${c.ackedTo}`,
        });
      }
      clearTimeout(c.holdTimer);
      c.opened = true;
      this.dropAcked(c, consumed);
      c.sentTo = c.ackedTo;
      c.finSent = false;
      this.send(encodeFrame(FrameType.ACK, id, c.delivered));
    }
    for (const c of this.conns.values()) {
      if (!this.syncList.has(c.id)) this.open(c);
    }
    this.send(encodeFrame(FrameType.SYNC_DONE, 0));
    this.synced = true;
    for (const c of this.conns.values()) this.sendInbound(c);
  }

  /** Inbound bytes of `c` below `off` are consumed by a committed checkpoint: drop them. */
  private dropAcked(c: Connection, off: number): void {
    if (off <= c.ackedTo) return;
    c.ackedTo = Math.min(off, c.inTotal);
    c.sentTo = Math.max(c.sentTo, c.ackedTo);
    while (c.held.length > 0) {
      const h = c.held[0];
      const end = h.off + h.bytes.length;
      if (end <= c.ackedTo) {
        c.held.shift();
      } else {
        if (h.off < c.ackedTo) {
          c.held[0] = { off: c.ackedTo, bytes: h.bytes.subarray(c.ackedTo - h.off) };
        }
        break;
      }
    }
    c.wakeReader?.();
    c.wakeReader = undefined;
  }

  /** The machine's ACK: drop what it consumed, read the client again, send within the new window. */
  private ack(id: number, off: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.dropAcked(c, off);
    this.sendInbound(c);
  }

  /** Outbound bytes at `off`: whatever is past what the client already has goes to it. */
  private deliver(id: number, off: number, data: Uint8Array): void {
    const c = this.conns.get(id);
    if (!c || c.closed) return;
    const end = off + data.length;
    if (end > c.delivered + TX_WINDOW_BYTES) {
      say({
        t: "violation",
        text: `switch: connection ${id} outbound bytes to ${end} are past the window: ` +
          `${c.delivered} delivered + ${TX_WINDOW_BYTES}`,
      });
    }
    if (end <= c.queuedTo) return;
    if (off > c.queuedTo) {
      say({
        t: "violation",
        text: `switch: connection ${id} outbound gap: ${c.queuedTo} delivered, next at ${off}`,
      });
    }
    c.outQueue.push({ end, bytes: data.subarray(Math.max(0, c.queuedTo - off)) });
    c.queuedTo = end;
    this.writeClient(c);
  }

  /**
   * Writes `c`'s queued outbound bytes in batches, ACKing the delivered
   * offset after each (to a synced machine); then closes the connection if
   * the machine's FIN is reached.
   */
  private async writeClient(c: Connection): Promise<void> {
    if (c.writing) return;
    c.writing = true;
    while (c.outQueue.length > 0 && !c.closed) {
      const batch = c.outQueue.splice(0);
      try {
        await writeAll(c.tcp, concatBytes(batch.map((b) => b.bytes)));
      } catch { /* the client went away; its FIN comes from the reader */ }
      c.delivered = batch[batch.length - 1].end;
      if (this.synced && !c.closed) this.send(encodeFrame(FrameType.ACK, c.id, c.delivered));
    }
    c.writing = false;
    if (c.machineFinAt !== undefined && c.delivered >= c.machineFinAt && !c.closed) {
      this.close(c, `the machine closed it after ${c.machineFinAt} bytes`, true);
    }
  }

  /** The program closed the connection after `off` outbound bytes: close once they are delivered. */
  private machineFin(id: number, off: number): void {
    const c = this.conns.get(id);
    if (!c || c.closed) return;
    c.machineFinAt = off;
    this.writeClient(c);
  }

  /**
   * Closes `c`'s client connection and forgets it; `gone`: tells the synced
   * machine GONE (else the next SYNC naming it gets GONE).
   */
  private close(c: Connection, why: string, gone = false): void {
    c.closed = true;
    this.conns.delete(c.id);
    clearTimeout(c.holdTimer);
    c.wakeReader?.();
    try {
      c.tcp.close();
    } catch { /* closed */ }
    say({ t: "closed", conn: c.id, why });
    if (gone && this.synced) this.send(encodeFrame(FrameType.GONE, c.id));
  }

  /** Queues a frame to the machine; written in order, batched while a write is under way. */
  private send(frame: Uint8Array): void {
    if (!this.link) return;
    this.linkQueue.push(frame);
    if (!this.flushing) this.flush(this.link);
  }

  private async flush(link: Deno.Conn): Promise<void> {
    this.flushing = true;
    try {
      while (this.linkQueue.length > 0 && this.link === link) {
        await writeAll(link, concatBytes(this.linkQueue.splice(0)));
      }
    } catch { /* the link went down; the next machine re-syncs */ }
    this.flushing = false;
  }
}

/**
 * The switch's flags, checked: the link path and its limits. Throws a
 * message naming the flag when one is missing or not a number in range.
 */
export function parseSwitchArgs(args: string[]): { link: string; limits: SwitchLimits } {
  const { values } = parseArgs({ args, options: SWITCH_FLAGS, strict: true });
  if (!values.link) throw new Error("switch: --link PATH is required");
  const count = (name: "max-connections" | "hold-ms", min: number): number => {
    const n = Number(values[name]);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new Error(`switch: --${name} needs a whole number >= ${min}, got ${values[name]}`);
    }
    return n;
  };
  return {
    link: values.link,
    limits: { maxConnections: count("max-connections", 1), holdMs: count("hold-ms", 0) },
  };
}

if (import.meta.main) {
  let parsed: ReturnType<typeof parseSwitchArgs>;
  try {
    parsed = parseSwitchArgs(Deno.args);
  } catch (e) {
    say({ t: "log", text: (e as Error).message });
    Deno.exit(2);
  }
  await new Switch(parsed.link, parsed.limits).run();
}
