/**
 * A small RESP2 client over TCP for the kv tools and tests: commands
 * encoded as multibulk, written one at a time or several in one write
 * (pipelined), replies read in order and handed to the caller as
 * {@link Reply} values. A connection that ends before the client closed
 * it is recorded in {@link KvClient.broken}.
 *
 * @example
 * ```ts
 * const c = await KvClient.connect("c", port);
 * const [r] = await c.call(["INCR", "k"]); // { t: "int", v: 1 }
 * ```
 *
 * @module
 */

import { writeAll } from "../kernel/abi/net_link.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One RESP2 reply. */
export type Reply =
  | { t: "simple"; v: string }
  | { t: "error"; v: string }
  | { t: "int"; v: number }
  | { t: "bulk"; v: string | null }
  | { t: "array"; v: Reply[] | null };

/** The RESP2 multibulk encoding of `argv`. */
export function encodeCommand(argv: string[]): Uint8Array {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${encoder.encode(a).length}\r\n${a}\r\n`;
  return encoder.encode(s);
}

/** A reply as text, for messages: `+OK`, `:3`, `$"abc"`, `-ERR …`. */
export function showReply(r: Reply): string {
  switch (r.t) {
    case "simple":
      return `+${r.v}`;
    case "error":
      return `-${r.v}`;
    case "int":
      return `:${r.v}`;
    case "bulk":
      return r.v === null ? "$nil" : `$${JSON.stringify(r.v.slice(0, 80))}`;
    case "array":
      return r.v === null ? "*nil" : `[${r.v.map(showReply).join(", ")}]`;
  }
}

/**
 * Parses one reply from `buf` at `at`; undefined when it is not all there
 * yet. Returns the reply and the offset after it.
 */
export function parseReply(buf: Uint8Array, at: number): [Reply, number] | undefined {
  const nl = buf.indexOf(10, at);
  if (nl < 0) return undefined;
  const line = decoder.decode(buf.subarray(at + 1, nl - 1));
  const next = nl + 1;
  switch (buf[at]) {
    case 0x2b:
      return [{ t: "simple", v: line }, next];
    case 0x2d:
      return [{ t: "error", v: line }, next];
    case 0x3a:
      return [{ t: "int", v: Number(line) }, next];
    case 0x24: {
      const len = Number(line);
      if (len < 0) return [{ t: "bulk", v: null }, next];
      if (buf.length < next + len + 2) return undefined;
      return [{ t: "bulk", v: decoder.decode(buf.subarray(next, next + len)) }, next + len + 2];
    }
    case 0x2a: {
      const n = Number(line);
      if (n < 0) return [{ t: "array", v: null }, next];
      const items: Reply[] = [];
      let off = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, off);
        if (!r) return undefined;
        items.push(r[0]);
        off = r[1];
      }
      return [{ t: "array", v: items }, off];
    }
    default:
      throw new Error(`not a RESP reply: byte ${buf[at]} at ${at}: ${line.slice(0, 80)}`);
  }
}

/** One connection to the store and the replies it is waiting for. */
export class KvClient {
  /** Commands sent and replies received on this connection. */
  sent = 0;
  received = 0;
  /** The connection ended (EOF or an error) before the client closed it. */
  broken: string | undefined;
  private closing = false;
  private readonly waiting: Array<(r: Reply | undefined) => void> = [];
  private readonly done: Promise<void>;

  private constructor(readonly name: string, private readonly conn: Deno.TcpConn) {
    this.done = this.readReplies();
  }

  /** Connects to the store on 127.0.0.1:`port`. */
  static async connect(name: string, port: number): Promise<KvClient> {
    return new KvClient(name, await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /**
   * Sends `commands` in one write (pipelined when more than one) and
   * resolves with their replies, in order; a reply is undefined when the
   * connection ended first.
   */
  async call(...commands: string[][]): Promise<Array<Reply | undefined>> {
    const replies = commands.map(() => new Promise<Reply | undefined>((r) => this.waiting.push(r)));
    const bytes = commands.map(encodeCommand);
    const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let off = 0;
    for (const b of bytes) {
      all.set(b, off);
      off += b.length;
    }
    this.sent += commands.length;
    try {
      await writeAll(this.conn, all);
    } catch (e) {
      this.broken ??= `write failed: ${(e as Error).message}`;
    }
    if (this.broken !== undefined) this.endWaiting(); // nothing more will be read

    return await Promise.all(replies);
  }

  /** Closes the connection (the client ends it). */
  async close(): Promise<void> {
    this.closing = true;
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.done;
  }

  private async readReplies(): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        const more = new Uint8Array(buf.length + n);
        more.set(buf);
        more.set(chunk.subarray(0, n), buf.length);
        buf = more;
        let at = 0;
        for (let r; (r = parseReply(buf, at));) {
          at = r[1];
          this.received++;
          this.waiting.shift()?.(r[0]);
        }
        buf = buf.slice(at);
      }
      if (!this.closing) this.broken ??= "the connection ended (EOF) before the client closed it";
    } catch (e) {
      if (!this.closing) this.broken ??= `read failed: ${(e as Error).message}`;
    }
    this.endWaiting();
  }

  private endWaiting(): void {
    for (const w of this.waiting.splice(0)) w(undefined);
  }
}
