/**
 * The switch: the outside world's side of the wire, a process of its own
 * beside the machine, and the one component that outlives a machine crash.
 * `deno run --allow-net=127.0.0.1,unix:LINK hw/switch.ts --link LINK`
 * (tools/net_process.ts starts it with exactly those permissions).
 *
 * Map of this file:
 * - {@link SWITCH_FLAGS}: its flags.
 * - {@link SwitchLine}: what it prints, one JSON object a line.
 * - {@link Switch}: the TCP listeners (one per port the machine's programs
 *   listen on, on 127.0.0.1, the same number as inside), each client
 *   connection's two streams, and the machine link (kernel/abi/net_link.ts).
 *
 * Inbound: every byte a client sends gets an offset in its stream and is
 * kept until the machine ACKs it (consumed by a committed checkpoint). When
 * a machine comes up on the link (HELLO) it lists the connections its
 * committed state holds, each with how far it consumed (SYNC); the switch
 * re-sends the rest, OPENs the connections the machine does not know (they
 * were opened while it was down, or before its state covered them) and
 * says GONE for those it does not know itself. A client that sends more than
 * {@link INBOUND_HELD_MAX} bytes the machine has not ACKed is not read from
 * until it does (flow control: the switch holds a bounded amount).
 *
 * Outbound: a DATA frame carries its stream offset; bytes below what was
 * already delivered are dropped, so a tail the machine re-sends after a
 * resume reaches the client once. A FIN from the machine closes the client's
 * connection once every byte before it is delivered.
 *
 * A client's TCP connection does not notice the machine going away: its
 * bytes wait here, and it sees only a pause.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { FlagTable } from "./flags.ts";
import {
  dataFrames,
  encodeFrame,
  FrameReader,
  FrameType,
  type LinkFrame,
} from "../kernel/abi/net_link.ts";

/** The switch's flags. */
export const SWITCH_FLAGS = {
  link: {
    type: "string",
    arg: "PATH",
    help: "the Unix socket the machine's NIC connects to",
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
  /** A protocol violation the switch saw (must never happen). */
  | { t: "violation"; text: string };

/** Inbound bytes of one connection the switch holds unACKed before it stops reading the client. */
export const INBOUND_HELD_MAX = 1024 * 1024;

const encoder = new TextEncoder();

function say(line: SwitchLine): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(line) + "\n"));
}

/** One client connection's state in the switch. */
interface Connection {
  id: number;
  port: number;
  tcp: Deno.TcpConn;
  /** Inbound chunks not yet ACKed, in order, each at its stream offset. */
  held: Array<{ off: number; bytes: Uint8Array }>;
  /** Stream offset of the first byte held (everything below is ACKed). */
  ackedTo: number;
  /** Inbound bytes read from the client so far. */
  inTotal: number;
  /** The client sent its last byte (EOF). */
  clientFin: boolean;
  /** Outbound bytes delivered to the client so far. */
  delivered: number;
  /** Writes to the client, in order. */
  writing: Promise<void>;
  /** Resolves the reader waiting for room (flow control). */
  wakeReader: (() => void) | undefined;
  closed: boolean;
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await w.write(bytes.subarray(at));
}

/** The switch: TCP listeners, client connections and the machine link. */
export class Switch {
  private readonly conns = new Map<number, Connection>();
  private readonly listeners = new Map<number, Deno.TcpListener>();
  private link: Deno.Conn | undefined;
  /** The machine on the link has been re-synchronised: frames may flow. */
  private synced = false;
  private syncList = new Map<number, number>();
  private outQueue: Uint8Array[] = [];
  private flushing = false;
  /** Connection ids: this switch's instance in the high 12 bits, a count below. */
  private readonly idBase = (crypto.getRandomValues(new Uint16Array(1))[0] & 0xfff) * 2 ** 20;
  private nextId = 1;

  constructor(private readonly linkPath: string) {}

  /** Listens on the link socket and serves machines one after another, for ever. */
  async run(): Promise<void> {
    try {
      Deno.removeSync(this.linkPath);
    } catch { /* not there */ }
    const server = Deno.listen({ transport: "unix", path: this.linkPath });
    say({ t: "link-ready", path: this.linkPath });
    for await (const link of server) this.serveLink(link);
  }

  private async serveLink(link: Deno.Conn): Promise<void> {
    this.link?.close();
    this.link = link;
    this.synced = false;
    this.outQueue = [];
    const reader = new FrameReader();
    const buf = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await link.read(buf);
        if (n === null) break;
        for (const f of reader.push(buf.subarray(0, n))) this.onFrame(f);
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

  private accept(port: number, tcp: Deno.TcpConn): void {
    const c: Connection = {
      id: this.idBase + this.nextId++,
      port,
      tcp,
      held: [],
      ackedTo: 0,
      inTotal: 0,
      clientFin: false,
      delivered: 0,
      writing: Promise.resolve(),
      wakeReader: undefined,
      closed: false,
    };
    this.conns.set(c.id, c);
    if (this.synced) this.send(encodeFrame(FrameType.OPEN, c.id, 0, undefined, port));
    this.readClient(c);
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
        const bytes = buf.slice(0, n);
        const off = c.inTotal;
        c.held.push({ off, bytes });
        c.inTotal += n;
        if (this.synced) { for (const f of dataFrames(c.id, off, bytes)) this.send(f); }
      }
    } catch { /* reset by the client: its stream ends here */ }
    if (c.closed) return;
    c.clientFin = true;
    if (this.synced) this.send(encodeFrame(FrameType.FIN, c.id, c.inTotal));
  }

  /** After a machine's SYNC list: re-send what it lacks, open what it does not know. */
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
      this.resend(c, consumed);
    }
    for (const c of this.conns.values()) {
      if (this.syncList.has(c.id)) continue;
      this.send(encodeFrame(FrameType.OPEN, c.id, 0, undefined, c.port));
      this.resend(c, 0);
    }
    this.send(encodeFrame(FrameType.SYNC_DONE, 0));
    this.synced = true;
  }

  private resend(c: Connection, from: number): void {
    for (const { off, bytes } of c.held) {
      const end = off + bytes.length;
      if (end <= from) continue;
      const skip = Math.max(0, from - off);
      for (const f of dataFrames(c.id, off + skip, bytes.subarray(skip))) this.send(f);
    }
    if (c.clientFin) this.send(encodeFrame(FrameType.FIN, c.id, c.inTotal));
  }

  private ack(id: number, off: number): void {
    const c = this.conns.get(id);
    if (!c || off <= c.ackedTo) return;
    c.ackedTo = Math.min(off, c.inTotal);
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

  /** Outbound bytes at `off`: whatever is past what the client already got goes to it. */
  private deliver(id: number, off: number, data: Uint8Array): void {
    const c = this.conns.get(id);
    if (!c || c.closed) return;
    c.writing = c.writing.then(async () => {
      const end = off + data.length;
      if (end <= c.delivered || c.closed) return;
      if (off > c.delivered) {
        say({
          t: "violation",
          text: `switch: connection ${id} outbound gap: ${c.delivered} delivered, next at ${off}`,
        });
      }
      const tail = data.subarray(Math.max(0, c.delivered - off));
      c.delivered = end;
      try {
        await writeAll(c.tcp, tail);
      } catch { /* the client went away; its FIN comes from the reader */ }
    });
  }

  /** The program closed the connection after `off` outbound bytes. */
  private machineFin(id: number, off: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    c.writing = c.writing.then(() => {
      if (c.delivered < off || c.closed) return;
      c.closed = true;
      this.conns.delete(id);
      c.wakeReader?.();
      try {
        c.tcp.close();
      } catch { /* closed */ }
    });
  }

  /** Queues a frame to the machine; written in order, batched while a write is under way. */
  private send(frame: Uint8Array): void {
    if (!this.link) return;
    this.outQueue.push(frame);
    if (!this.flushing) this.flush(this.link);
  }

  private async flush(link: Deno.Conn): Promise<void> {
    this.flushing = true;
    try {
      while (this.outQueue.length > 0 && this.link === link) {
        const frames = this.outQueue;
        this.outQueue = [];
        const total = frames.reduce((n, f) => n + f.length, 0);
        const out = new Uint8Array(total);
        let at = 0;
        for (const f of frames) {
          out.set(f, at);
          at += f.length;
        }
        await writeAll(link, out);
      }
    } catch { /* the link went down; the next machine re-syncs */ }
    this.flushing = false;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: SWITCH_FLAGS, strict: true });
  if (!values.link) {
    say({ t: "log", text: "switch: --link PATH is required" });
    Deno.exit(2);
  }
  await new Switch(values.link).run();
}
