/**
 * Invariant 4 (first part): a component that loops forever, throws or exits is
 * stopped and restarted by its policy, and the rest of the system (the
 * counter app, the servers) never notices.
 */

import assert from "node:assert/strict";
import { Err } from "../../kernel/abi/errors.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, tempImage } from "../helpers.ts";

const WHAT: Record<string, string> = { loop: "loops forever", throw: "throws", exit: "exits" };

for (const fault of ["loop", "throw", "exit"]) {
  Deno.test(`a component that ${WHAT[fault]} is restarted; others keep running`, async () => {
    const image = tempImage();
    const m = MachineProcess.start(image, [
      "--fresh",
      ...(fault === "exit" ? ["--handler-budget-ms", "250"] : []),
      "--apps",
      `counter,tests/programs/faulty.ts?fault=${fault}`,
    ]);
    try {
      await m.ready();
      assert.equal(await consoleLine(m, "faulty restarted "), "1");
      const failed = m.lines.find((l) => l.t === "log" && /faulty\.ts\) failed/.test(l.text));
      assert.ok(failed && failed.t === "log", "the kernel reports the failure");
      if (fault === "loop") assert.match(failed.text, /watchdog: a handler ran past/);
      if (fault === "exit") assert.match(failed.text, /watchdog: no heartbeat/);
      // The counter kept counting through the fault and after it.
      const seen = m.lines.filter((l) => l.t === "console" && l.name === "counter").length;
      await m.waitFor((l) =>
        l.t === "console" && l.name === "counter" && /counter \d+/.test(l.text)
      );
      assert.ok(seen > 0);
      assert.equal((await m.shutdown()).code, 0);
    } finally {
      await m.kill();
      removeImage(image);
    }
  });
}

Deno.test("a caller whose server hangs gets E_PEER_DIED once the watchdog stops it, never a hang", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, ["--fresh", "--apps", "tests/programs/peerdeath.ts"]);
  try {
    const r = JSON.parse(await consoleLine(m, "peerdeath ")) as {
      echo: string;
      status: number;
      waitedMs: number;
      after: string;
    };
    assert.equal(r.echo, "hi", "the server answered before it hung");
    assert.equal(r.status, Err.E_PEER_DIED);
    assert.ok(r.waitedMs >= 1000, `the call waited for the watchdog (${r.waitedMs} ms)`);
    assert.equal(r.after, "E_PEER_DIED", "later calls on the dead connection fail at once");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});
