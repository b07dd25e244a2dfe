/**
 * Shared test helpers: temporary images, reading console lines from a
 * machine, and a seeded PRNG for scenarios.
 *
 * @module
 */

import type { MachineProcess } from "../tools/machine_process.ts";

/** A fresh temporary image path (the file does not exist yet). */
export function tempImage(): string {
  const dir = Deno.makeTempDirSync({ prefix: "tardigrade-test-" });
  return `${dir}/test.img`;
}

/** Removes an image made by {@link tempImage}, with its directory. */
export function removeImage(path: string): void {
  Deno.removeSync(path.replace(/\/[^/]+$/, ""), { recursive: true });
}

/** Resolves with the rest of the first console line starting with `prefix`. */
export async function consoleLine(
  m: MachineProcess,
  prefix: string,
  timeoutMs = 60_000,
): Promise<string> {
  let found: string | undefined;
  await m.waitFor((l) => {
    if (l.t !== "console") return false;
    found = l.text.split("\n").find((line) => line.startsWith(prefix));
    return found !== undefined;
  }, timeoutMs);
  return found!.slice(prefix.length);
}
