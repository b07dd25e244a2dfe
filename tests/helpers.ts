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

/**
 * `deno run` and the permissions `deno task boot|bench|scenario` give a
 * tool (deno.json): a test runs a tool as a user's task runs it.
 */
export const TASK_RUN_ARGS = [
  "run",
  "--unstable-worker-options",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-net=127.0.0.1",
];

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

/**
 * Makes sure the host command `command` exists, installing Debian's
 * `pkg` with apt-get when it does not (and saying so): a test that needs
 * a real client such as `nc` runs it, or fails with why, never skips.
 */
export async function requireCommand(command: string, pkg: string): Promise<void> {
  const found = await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output();
  if (found.success) return;
  console.log(`${command} is missing: installing ${pkg} (apt-get install -y ${pkg})`);
  const apt = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", pkg],
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  if (!apt.success) {
    throw new Error(
      `${command} is missing and apt-get install ${pkg} failed: ${
        new TextDecoder().decode(apt.stderr).slice(-400)
      }; install ${pkg} and run the test again`,
    );
  }
}
