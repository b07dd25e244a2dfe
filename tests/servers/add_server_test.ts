/**
 * The "Add a server" walk-through of docs/ARCHITECTURE.md, followed: the
 * example server (servers/example/, an optional entry of servers/init/
 * config.ts) starts when `--apps` names it, a client program reaches it by
 * name, and a fault injected into it is contained: the kernel restarts it by
 * its policy (fresh: on its persistent memory) and the client's totals go on
 * from where they were.
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import { SERVICES } from "../../servers/init/config.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

type Line = Extract<MachineLine, { t: "console" } | { t: "log" }>;
const isLog = (l: MachineLine): l is Extract<MachineLine, { t: "log" }> => l.t === "log";

/** Every total the client has printed, in order (from line `since` of the machine on). */
function totals(m: MachineProcess, since = 0): number[] {
  const text = m.lines.slice(since).filter((l) => l.t === "console" && l.name === "example_client")
    .map((l) => (l as Line).text).join("");
  return [...text.matchAll(/^example total (\d+)$/gm)].map((x) => Number(x[1]));
}

Deno.test("the example server starts when asked, answers its client, and is restarted after a fault with its total kept", async () => {
  const example = SERVICES.find((s) => s.name === "example");
  assert.ok(example?.optional, "the example server is an optional entry of init's configuration");
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fault-injection",
    "--apps",
    "example,tests/programs/example_client.ts",
  ]);
  try {
    await m.ready();
    await m.waitFor(() => totals(m).length >= 3);
    assert.deepEqual(totals(m).slice(0, 3), [1, 2, 3], "the client reached the server by name");
    const since = m.lines.length;
    await m.inject("example", "throw", 1);
    const failed = await m.waitFor(
      (l) => isLog(l) && /^kernel: thread \d+ \(servers\/example\/main\.ts\) failed: /.test(l.text),
      60_000,
      since,
    );
    const thread = /thread (\d+)/.exec((failed as Line).text)![1];
    const back = await m.waitFor(
      (l) =>
        isLog(l) && l.text.startsWith(`kernel: thread ${thread} (servers/example/main.ts) ready`),
      60_000,
      since,
    );
    // The restarted server kept its total (its PMO, found again by name): the client counts on.
    const restarted = m.lines.indexOf(back);
    await m.waitFor(() => totals(m, restarted).length >= 3);
    const all = totals(m);
    for (let i = 1; i < all.length; i++) {
      assert.equal(all[i], all[i - 1] + 1, `each ADD counted once: ${all[i - 1]} then ${all[i]}`);
    }
    const errors = m.lines.filter((l) =>
      l.t === "console" && l.name === "example_client" && l.text.includes("ERROR")
    );
    assert.deepEqual(
      errors,
      [],
      "the client never saw the fault (its call waited in the ring for the restart)",
    );
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("unless asked, the example server is not started and its client is told which capability it lacks", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, ["--fresh", "--apps", "tests/programs/example_client.ts"]);
  try {
    await m.ready();
    const failed = await m.waitFor((l) => isLog(l) && l.text.startsWith("start-up failed: "));
    assert.match((failed as Line).text, /no capability named "example"/);
    assert.ok(
      !m.lines.some((l) => isLog(l) && l.text.startsWith("init: example server up")),
      "init started only the servers that are not optional",
    );
  } finally {
    await m.kill();
    removeImage(image);
  }
});
