/**
 * Invariant 4 (first part): a component that loops forever, throws or exits is
 * stopped and restarted by its policy, and the rest of the system (the
 * counter app, the servers) never notices: the counter prints on after the
 * fault (text released by a commit later than the one that released the
 * restarted component's first line), without a gap or a repeat.
 */

import assert from "node:assert/strict";
import { Err } from "../../kernel/abi/errors.ts";
import type { MachineLine } from "../../hw/board.ts";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, tempImage } from "../helpers.ts";

const WHAT: Record<string, string> = { loop: "loops forever", throw: "throws", exit: "exits" };
/** Counter lines the counter must print after the fault. */
const COUNTER_LINES_AFTER = 5;

type ConsoleLine = Extract<MachineLine, { t: "console" }>;
const isConsole = (l: MachineLine): l is ConsoleLine => l.t === "console";

for (const fault of ["loop", "throw", "exit"]) {
  Deno.test(`a component that ${WHAT[fault]} is restarted; the counter keeps counting after it`, async () => {
    const image = tempImage();
    const m = MachineProcess.start(image, [
      "--fresh",
      ...(fault === "exit" ? ["--handler-budget-ms", "250"] : []),
      "--apps",
      `counter,tests/programs/faulty.ts?fault=${fault}`,
    ]);
    try {
      await m.ready();
      // The restarted life's first line: written after the fault, before checkpoint `epoch`
      // was captured. Counter text released by a later commit was written after that capture.
      const restarted = await m.waitFor((l): l is ConsoleLine =>
        isConsole(l) && l.name === "faulty" && /^faulty restarted /m.test(l.text)
      );
      assert.match(restarted.text, /^faulty restarted 1 /m, "restarted once");
      const after = (l: MachineLine): l is ConsoleLine =>
        isConsole(l) && l.name === "counter" && l.epoch > restarted.epoch;
      const view = new ConsoleView();
      const counted = () =>
        m.lines.filter(after).map((l) => l.text).join("").split("\n").length - 1;
      await m.waitFor(() => counted() >= COUNTER_LINES_AFTER);
      assert.equal((await m.shutdown()).code, 0);
      // What the outside saw of the counter, across the fault: 1, 2, 3, … with no gap or repeat.
      const thread = m.lines.find((l) => isConsole(l) && l.name === "counter") as ConsoleLine;
      for (const l of m.lines) if (isConsole(l) && l.thread === thread.thread) view.accept(l);
      const lines = (view.text.get(thread.thread) ?? "").split("\n").filter((x) => x !== "");
      lines.forEach((line, i) => assert.equal(line, `counter ${i + 1}`));
      assert.ok(counted() >= COUNTER_LINES_AFTER);
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
