/**
 * The outcome of one call, as the test programs that probe servers report
 * it (tests/programs/fsops.ts, memtest.ts): its value, or the POSIX name
 * (or code name) of its error.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { FsError } from "../../servers/fs/vfs.ts";

/** A call's value (null for none), or its error's name. */
export type Outcome = { ok: unknown } | { err: string };

/** Runs `f` and says how it ended. */
export async function attempt(f: () => Promise<unknown> | unknown): Promise<Outcome> {
  try {
    const v = await f();
    return { ok: v === undefined ? null : v };
  } catch (e) {
    const fsErr = FsError.from(e);
    if (fsErr) return { err: fsErr.errnoName };
    return { err: e instanceof TardigradeError ? e.codeName : `untyped: ${String(e)}` };
  }
}
