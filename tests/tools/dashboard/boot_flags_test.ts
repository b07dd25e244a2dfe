/**
 * The supervisor's dashboard flags (tools/boot.ts, tools/dashboard/mod.ts):
 * the machine flags the dashboard needs are added once, a bad or busy port
 * is refused before any machine starts (exit 2, naming the flag).
 */

import assert from "node:assert/strict";
import { withDashboardFlags } from "../../../tools/dashboard/mod.ts";
import { removeImage, TASK_RUN_ARGS, tempImage } from "../../helpers.ts";

const BOOT = new URL("../../../tools/boot.ts", import.meta.url).pathname;

async function boot(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...TASK_RUN_ARGS, BOOT, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("dashboard flags: the machine flags it needs are added when missing, never twice", () => {
  assert.deepEqual(withDashboardFlags(["--fresh"]), [
    "--fresh",
    "--report-checkpoints",
    "--report-ms",
    "500",
  ]);
  assert.deepEqual(
    withDashboardFlags(["--report-ms", "1000", "--report-checkpoints"]),
    ["--report-ms", "1000", "--report-checkpoints"],
  );
});

Deno.test("dashboard flags: a bad port is refused with exit 2 before any machine starts", async () => {
  const r = await boot(["--dashboard-port", "70000"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--dashboard-port must be a port number in 0…65535, got 70000/);
  assert.doesNotMatch(r.stdout, /machine process/);
});

Deno.test("dashboard flags: a port in use is refused with exit 2, naming --dashboard-port", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const image = tempImage("dashboard-busy");
  try {
    const r = await boot(["--image", image, "--dashboard-port", String(busy.addr.port)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is in use: pick another with --dashboard-port N/);
    assert.doesNotMatch(r.stdout, /machine process/);
  } finally {
    busy.close();
    removeImage(image);
  }
});
