/**
 * Shared test helpers: temporary images, reading console lines from a
 * machine, and a seeded PRNG for scenarios.
 *
 * @module
 */

import type { MachineProcess } from "../tools/machine_process.ts";

/**
 * A fresh temporary image path (the file does not exist yet) and its
 * removal, with its directory: the tools' own (tools/temp_image.ts).
 */
export { removeImage, tempImage } from "../tools/temp_image.ts";

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
