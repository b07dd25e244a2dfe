/**
 * What the store's command and protocol tests compare against: a real
 * redis-server started on a free TCP port (Debian's, installed on demand
 * by requireCommand), a raw-socket client that sends argv lists and reads
 * whole RESP replies as bytes, and the store's side (tools/kv_in_process.ts:
 * the commands over a real NvmKeyspace on a fresh memory object). Built
 * on the tools' RESP client and redis-server starter.
 *
 * @module
 */

import { concatBytes } from "../../../../kernel/abi/net_link.ts";
import { RedisProcess } from "../../../../tools/redis_process.ts";
import { parseReply, RespConn } from "../../../../tools/resp_client.ts";
import { requireCommand } from "../../../helpers.ts";

/** `args` as RESP multibulk bytes. */
export { encodeCommand } from "../../../../tools/resp_client.ts";
/** The bytes of `parts` one after another. */
export { concatBytes as concat } from "../../../../kernel/abi/net_link.ts";
/** The store's side of a comparison, in process. */
export { InProcessStore as Store } from "../../../../tools/kv_in_process.ts";

/** The offset after the RESP2 reply at `from`, or -1 when `buf` does not hold all of it yet. */
export function replyEnd(buf: Uint8Array, from: number): number {
  return parseReply(buf, from)?.end ?? -1;
}

/** A raw TCP connection to redis-server that sends bytes and reads whole replies as their bytes. */
export class RawClient {
  private constructor(private readonly resp: RespConn) {}

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await RespConn.connect(port));
  }

  /** Sends bytes as they are. */
  send(bytes: Uint8Array): Promise<void> {
    return this.resp.write(bytes);
  }

  /** The next `count` whole replies, each as its bytes. */
  async replies(count: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    while (out.length < count) {
      const r = await this.resp.read();
      if (r === undefined) throw new Error(`redis-server closed after ${out.length} replies`);
      out.push(r.raw);
    }
    return out;
  }

  /** Sends one command and returns its reply's bytes. */
  async call(args: Array<string | Uint8Array>): Promise<Uint8Array> {
    return (await this.resp.call(...args)).raw;
  }

  /** Everything until the server closes the connection. */
  async readToClose(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (let r = await this.resp.read(); r !== undefined; r = await this.resp.read()) {
      parts.push(r.raw);
    }
    return concatBytes([...parts, this.resp.pending()]);
  }

  /** Closes the connection. */
  close(): void {
    this.resp.close();
  }
}

/** A redis-server of its own (installed when missing), on a free port, in a temporary directory, saving nothing by itself. */
export const RedisServer = {
  async start(): Promise<RedisProcess> {
    await requireCommand("redis-server", "redis-server");
    return RedisProcess.start();
  },
};
