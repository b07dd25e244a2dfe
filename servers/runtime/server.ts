/**
 * The server side of a connection: {@link ServerConnection.serve} takes
 * requests from the request ring, runs the handler on each to completion
 * and writes the replies (an error thrown by the handler becomes the
 * reply's status). The program loop (program.ts) calls `serve`.
 *
 * The path of a message: docs/ARCHITECTURE.md "A message, followed".
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { ConnWord } from "../../kernel/abi/layout.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX, RING_SLOTS } from "../../kernel/abi/limits.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import { ringDoorbell } from "../../kernel/abi/doorbell.ts";
import type { Reply } from "./client.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { connectionRings, type Message, type Ring } from "./ring.ts";

const encoder = new TextEncoder();

/**
 * A request as a server handler sees it. Its payload is valid only while the
 * handler runs: copy what you keep.
 */
export interface Request extends Message {
  /** Badge of the capability the client connected with: set by the kernel, not the client. */
  badge: number;
  connId: number;
}

/** What a request handler returns: a payload (status OK), or nothing for an empty reply. */
export type HandlerResult = Uint8Array | void;

/** A request handler. Throw a TardigradeError to reply with its code. */
export type RequestHandler = (req: Request) => HandlerResult;

/** The server side of a connection. */
export class ServerConnection {
  readonly connId: number;
  readonly badge: number;
  private readonly mem: PersistentMemory;
  private readonly requests: Ring;
  private readonly responses: Ring;
  private peerDoorbell: Int32Array;

  constructor(handle: ConnectionHandle, private readonly handler: RequestHandler) {
    this.connId = handle.connId;
    this.badge = handle.badge;
    this.mem = new PersistentMemory(handle.ring);
    ({ requests: this.requests, responses: this.responses } = connectionRings(this.mem));
    this.peerDoorbell = new Int32Array(handle.peerDoorbell);
  }

  /** The client restarted: its new doorbell. */
  setPeerDoorbell(doorbell: SharedArrayBuffer): void {
    this.peerDoorbell = new Int32Array(doorbell);
  }

  /**
   * True when a call waits in the request ring (a client in the middle of a
   * step waits for it) and `serve` can answer it now: the connection is open
   * and the response ring has room.
   */
  hasServableCall(): boolean {
    if (Atomics.load(this.mem.words, ConnWord.CLOSED) !== 0) return false;
    return this.responses.pending() < RING_SLOTS && this.requests.hasCall();
  }

  /**
   * Handles up to `budget` requests, each to completion, replying to calls.
   * Returns how many it handled. Stops early when the response ring is full.
   */
  serve(budget: number): number {
    let handled = 0;
    let replied = false;
    for (; handled < budget; handled++) {
      // The request's payload is a view into its slot: valid until advance(), after the reply.
      const m = this.requests.peek(false);
      if (!m) break;
      if (m.tag !== 0 && this.responses.pending() >= RING_SLOTS) break;
      const { status, payload } = this.run(m);
      if (m.tag !== 0) {
        this.responses.tryWrite(m.label, m.tag, status, payload);
        replied = true;
      }
      this.requests.advance();
    }
    if (replied) ringDoorbell(this.peerDoorbell);
    return handled;
  }

  private run(m: Message): Reply {
    if (m.status === Err.E_BAD_MESSAGE) {
      return errorReply(
        new TardigradeError(
          Err.E_BAD_MESSAGE,
          `request has a length over ${MESSAGE_PAYLOAD_BYTES_MAX}`,
        ),
      );
    }
    try {
      const out = this.handler({ ...m, badge: this.badge, connId: this.connId });
      return { status: Err.OK, payload: out ?? new Uint8Array(0) };
    } catch (e) {
      return errorReply(e);
    }
  }
}

/** The reply for a handler that threw: its code, and its message as the payload. */
function errorReply(e: unknown): Reply {
  const te = e instanceof TardigradeError
    ? e
    : new TardigradeError(Err.E_INTERNAL, e instanceof Error ? e.message : String(e));
  const text = encoder.encode(te.message.slice(0, 900));
  return { status: te.code, payload: text };
}
