/**
 * Errors of the memory server's requests: {@link fail} throws a named code
 * with a message prefixed "memory:", {@link intIn} checks a request number.
 * Used by the request handler (server.ts) and the frame pool (frame_pool.ts).
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";

/** Throws a TardigradeError `code` saying "memory: <what>". */
export function fail(code: Err, what: string): never {
  throw new TardigradeError(code, `memory: ${what}`);
}

/** A request number that must be an integer in [min, max]; E_BAD_ARGUMENT otherwise. */
export function intIn(v: number, min: number, max: number, what: string): number {
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    fail(Err.E_BAD_ARGUMENT, `${what} ${v} must be an integer in [${min}, ${max}]`);
  }
  return v;
}
