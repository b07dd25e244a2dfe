/**
 * The kv store's IPC protocol and client stub: its commands for programs
 * in the machine (the shell's `kv`), beside RESP over TCP for the world.
 * A request is one command as Redis's argv; the reply is that command's
 * RESP2 reply, byte for byte what a TCP client would get, run in database
 * 0 by a session that lasts for the call.
 *
 * | label   | request                                   | reply              |
 * |---------|-------------------------------------------|--------------------|
 * | COMMAND | u32 argc, then per argument u32 n, n bytes | the RESP2 reply    |
 *
 * Errors: E_BAD_MESSAGE (a request that does not parse), E_MESSAGE_TOO_LARGE
 * (a reply longer than one message: ask over TCP, e.g. redis-cli). A
 * command's own error (`-ERR …`, `-WRONGTYPE …`) is its reply, not an IPC error.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../../kernel/abi/limits.ts";
import { PayloadReader, PayloadWriter } from "../../../kernel/abi/payload.ts";
import { type ClientConnection, unwrap } from "../../runtime/ipc.ts";

/** Labels of the kv store's operations (from 16 on, beside STATUS and ECHO). */
export enum KvLabel {
  COMMAND = 16,
}

const encoder = new TextEncoder();

/** The COMMAND payload of `argv`; E_MESSAGE_TOO_LARGE when it does not fit in one message. */
export function encodeCommand(argv: Array<string | Uint8Array>): Uint8Array {
  const args = argv.map((a) => typeof a === "string" ? encoder.encode(a) : a);
  const bytes = 4 + args.reduce((n, a) => n + 4 + a.length, 0);
  if (bytes > MESSAGE_PAYLOAD_BYTES_MAX) {
    throw new TardigradeError(
      Err.E_MESSAGE_TOO_LARGE,
      `kv COMMAND: ${bytes} bytes of arguments, more than one message holds ` +
        `(${MESSAGE_PAYLOAD_BYTES_MAX}); send it over TCP (redis-cli)`,
    );
  }
  const w = new PayloadWriter(bytes).u32(args.length);
  for (const a of args) w.u32(a.length).bytes(a);
  return w.done();
}

/** The argv of a COMMAND payload; E_BAD_MESSAGE when it does not parse. */
export function decodeCommand(payload: Uint8Array): Uint8Array[] {
  const r = new PayloadReader(payload, "kv COMMAND");
  const argc = r.u32();
  const argv: Uint8Array[] = [];
  for (let i = 0; i < argc; i++) argv.push(r.bytes(r.u32()).slice());
  r.end();
  return argv;
}

/** The kv store, asynchronous, for programs in the machine. */
export class KvClient {
  constructor(readonly conn: ClientConnection) {}

  /** Runs one command (`["SET", "k", "v"]`); returns its RESP2 reply. */
  async command(argv: Array<string | Uint8Array>): Promise<Uint8Array> {
    return unwrap(await this.conn.call(KvLabel.COMMAND, encodeCommand(argv)), "kv COMMAND");
  }
}
