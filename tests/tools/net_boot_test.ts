/**
 * The switch beside the machine: the machine's NIC reaches the switch over
 * the link socket given by `--net-link`, and the switch outlives a SIGKILL
 * of the machine and serves the resumed one (tools/net_process.ts,
 * hw/nic.ts).
 *
 * Run: `deno test --unstable-worker-options --allow-read --allow-write --allow-run --allow-env --allow-net tests/tools/net_boot_test.ts`.
 */

import assert from "node:assert/strict";
import { relative } from "node:path";
import { removeImage, tempImage } from "../helpers.ts";
import { imageDir } from "../../tools/temp_image.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { SwitchProcess } from "../../tools/net_process.ts";

Deno.test("net boot: the switch outlives a SIGKILLed machine and the resumed machine links to it again", async () => {
  const image = tempImage("netboot");
  // A relative path, as `deno task boot --net` makes from a relative --image: made absolute.
  const sw = await SwitchProcess.start(relative(Deno.cwd(), `${imageDir(image)}/link.sock`));
  const args = ["--net-link", sw.linkPath];
  try {
    let m = MachineProcess.start(image, ["--fresh", "--report-checkpoints", ...args]);
    await m.ready();
    await m.waitFor((l) => l.t === "checkpoints");
    await sw.waitFor((l) => l.t === "machine" && l.up);
    await m.kill();
    const downAt = sw.lines.length;
    await sw.waitFor((l) => l.t === "machine" && !l.up);
    m = MachineProcess.start(image, args);
    const ready = await m.ready();
    assert.equal(ready.resumed, true);
    await sw.waitFor((l) => l.t === "machine" && l.up, downAt);
    const before = sw.lines.length;
    await m.shutdown();
    await sw.waitFor((l) => l.t === "machine" && !l.up, before);
    assert.deepEqual(sw.violations(), []);
  } finally {
    await sw.stop();
    removeImage(image);
  }
});
