/**
 * The network driver's protocol and client stub. SEND is the transmit path
 * alone, the first piece of the socket operations to come
 * (docs/ARCHITECTURE.md "Network"): the caller names the switch's
 * connection id itself until listen and accept exist.
 *
 * | label | request               | reply                                  |
 * |-------|-----------------------|----------------------------------------|
 * | SEND  | u32 conn, bytes       | f64 the connection's outbound offset after them |
 * | CLOSE | u32 conn              | f64 the outbound offset the FIN follows |
 *
 * After CLOSE, SEND on that connection is E_NOT_FOUND.
 *
 * Errors: E_WOULD_BLOCK (the transmit ring is full of frames no commit has
 * released yet: try again after the next checkpoint), E_LIMIT (too many
 * connections, or more bytes than one frame), E_NOT_FOUND (no NIC),
 * E_BAD_MESSAGE.
 *
 * @module
 */

import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { type ClientConnection, unwrap } from "../runtime/ipc.ts";

/** Labels of the network driver's operations (from 16 on, beside STATUS and ECHO). */
export enum NetLabel {
  SEND = 16,
  CLOSE = 17,
}

/** The network driver, asynchronous: one method per label. */
export class NetClient {
  constructor(readonly conn: ClientConnection) {}

  /** Queues `bytes` on connection `conn`; returns its outbound offset after them. */
  async send(conn: number, bytes: Uint8Array): Promise<number> {
    const req = new PayloadWriter(4 + bytes.length).u32(conn).bytes(bytes).done();
    return readOffset(unwrap(await this.conn.call(NetLabel.SEND, req), "net SEND"));
  }

  /** Closes connection `conn` after everything sent on it; returns its outbound offset. */
  async close(conn: number): Promise<number> {
    const req = new PayloadWriter(4).u32(conn).done();
    return readOffset(unwrap(await this.conn.call(NetLabel.CLOSE, req), "net CLOSE"));
  }
}

/** Decodes a reply that is one f64 offset (E_BAD_MESSAGE otherwise). */
function readOffset(payload: Uint8Array): number {
  const r = new PayloadReader(payload, "net reply");
  const off = r.f64();
  r.end();
  return off;
}
