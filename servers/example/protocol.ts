/**
 * The example server's protocol and client stub: THE example to copy when
 * adding a server (docs/ARCHITECTURE.md "Add a server"). A persistent
 * counter: ADD adds a number to the total and answers the new total; TOTAL
 * answers it. Numbers travel as little-endian f64.
 *
 * | label | request  | reply         |
 * |-------|----------|---------------|
 * | ADD   | f64 n    | f64 new total |
 * | TOTAL | empty    | f64 total     |
 *
 * Errors: E_BAD_ARGUMENT (n not a finite number), E_BAD_MESSAGE.
 *
 * @module
 */

import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { type ClientConnection, unwrap } from "../runtime/ipc.ts";

/** Labels of the example server's operations (from 16 on, beside STATUS and ECHO). */
export enum ExampleLabel {
  ADD = 16,
  TOTAL = 17,
}

/** The example server, asynchronous: one method per label. */
export class ExampleClient {
  constructor(readonly conn: ClientConnection) {}

  /** Adds `n` to the total; returns the new total. */
  async add(n: number): Promise<number> {
    const reply = await this.conn.call(ExampleLabel.ADD, new PayloadWriter(8).f64(n).done());
    return readTotal(unwrap(reply, "example ADD"));
  }

  /** The total so far. */
  async total(): Promise<number> {
    return readTotal(unwrap(await this.conn.call(ExampleLabel.TOTAL), "example TOTAL"));
  }
}

/** Decodes a reply that is one f64 (E_BAD_MESSAGE otherwise). */
export function readTotal(payload: Uint8Array): number {
  const r = new PayloadReader(payload, "example reply");
  const total = r.f64();
  r.end();
  return total;
}
