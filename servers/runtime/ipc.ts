/**
 * Runtime IPC, the surface programs import: connections (client.ts,
 * server.ts, over the rings of ring.ts) and the payload helpers every
 * client stub uses (`unwrap`, `jsonPayload`, `parseJson`).
 *
 * The path of a message: docs/ARCHITECTURE.md "A message, followed".
 *
 * @module
 */

import { Err, errName, TardigradeError } from "../../kernel/abi/errors.ts";
import type { Reply } from "./client.ts";

export { connectionRings, type Message, Ring } from "./ring.ts";
export { ClientConnection, type Reply, type Waiter } from "./client.ts";
export {
  type HandlerResult,
  type Request,
  type RequestHandler,
  ServerConnection,
} from "./server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Turns an error reply into a TardigradeError (throws), or returns the payload of an OK reply. */
export function unwrap(reply: Reply, what: string): Uint8Array {
  if (reply.status === Err.OK) return reply.payload;
  const text = decoder.decode(reply.payload);
  throw new TardigradeError(reply.status, `${what}: ${text || errName(reply.status)}`);
}

/** Encodes a value as a JSON payload. */
export function jsonPayload(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes a JSON payload; E_BAD_MESSAGE if it is not JSON. */
export function parseJson<T = unknown>(payload: Uint8Array): T {
  try {
    return JSON.parse(decoder.decode(payload)) as T;
  } catch {
    throw new TardigradeError(Err.E_BAD_MESSAGE, `payload of ${payload.length} bytes is not JSON`);
  }
}
