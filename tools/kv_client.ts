/**
 * A small RESP2 client over TCP for the kv tools and tests: commands
 * encoded as multibulk, written one at a time or several in one write
 * (pipelined), replies read in order and handed to the caller as
 * {@link Reply} values (tools/resp_client.ts, which parses them). A connection that ends before the client closed
 * it is recorded in {@link KvClient.broken}.
 *
 * @example
 * ```ts
 * const c = await KvClient.connect("c", port);
 * const [r] = await c.call(["INCR", "k"]); // { t: ":", text: "1", raw }
 * ```
 *
 * @module
 */

import { concatBytes, writeAll } from "../kernel/abi/net_link.ts";
import { encodeCommand, parseReply, type Reply } from "./resp_client.ts";

export type { Reply } from "./resp_client.ts";

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
    const all = concatBytes(commands.map(encodeCommand));
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
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(chunk);
        if (n === null) break;
        buf = concatBytes([buf, chunk.subarray(0, n)]);
        let at = 0;
        for (let r; (r = parseReply(buf, at));) {
          at = r.end;
          this.received++;
          this.waiting.shift()?.(r.reply);
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
