/**
 * Checkpoints whose cut finds nothing new are not written or committed
 * (kernel/checkpoint.ts, "unchanged"), on a real machine across SIGKILLs:
 * a program prints a line every 50 ms while checkpoints come every 1 ms, so
 * most cuts are unchanged; every line must still come out exactly once and
 * in order, each released by a commit (its epoch), the unchanged cuts
 * reported with the committed epoch they equal, and a machine killed
 * between two lines resumes at an epoch no older than any output seen.
 */

import assert from "node:assert/strict";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";
import type { MachineLine } from "../../hw/board.ts";
import type { CheckpointStats } from "../../kernel/abi/protocol.ts";
import { removeImage, tempImage } from "../helpers.ts";

type ConsoleLine = Extract<MachineLine, { t: "console" }>;

Deno.test("unchanged checkpoints: nothing is committed for them, output is released once and in order across crashes", async () => {
  const image = tempImage();
  const view = new ConsoleView();
  const lines: string[] = [];
  const epochs: number[] = [];
  const stats: CheckpointStats[] = [];
  let newestEpochSeen = 0;
  const watch = (m: MachineProcess) =>
    m.onLine((l) => {
      if (l.t === "checkpoints") stats.push(...l.stats);
      if (l.t !== "console" || l.name !== "chatty") return;
      newestEpochSeen = Math.max(newestEpochSeen, l.epoch);
      for (const line of view.accept(l as ConsoleLine).split("\n")) {
        if (line === "") continue;
        lines.push(line);
        epochs.push(l.epoch);
      }
    });
  const flags = ["--checkpoint-ms", "1", "--report-checkpoints"];
  try {
    let m = MachineProcess.start(image, [
      "--fresh",
      "--apps",
      "tests/programs/chatty.ts?timerMs=50&filler=u",
      ...flags,
    ]);
    watch(m);
    for (let crash = 0; crash < 2; crash++) {
      const want = lines.length + 10;
      await m.waitFor(() => lines.length >= want);
      await m.kill();
      const seen = newestEpochSeen;
      m = MachineProcess.start(image, flags);
      watch(m);
      const boot = await m.waitFor((l) => l.t === "boot");
      assert.ok(boot.t === "boot" && !boot.fresh && boot.epoch >= seen, JSON.stringify(boot));
    }
    const want = lines.length + 10;
    await m.waitFor(() => lines.length >= want);
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
  lines.forEach((line, i) => assert.match(line, new RegExp(`^chatty ${i + 1} u+$`)));
  assert.equal(view.rollbacksSeen, 0, "no re-sent byte differed");
  assert.equal(view.bytesMissed, 0, "no byte was missed");
  const unchanged = stats.filter((s) => s.unchanged);
  const committed = stats.filter((s) => !s.unchanged);
  console.log(
    `${lines.length} lines; checkpoints reported: ${committed.length} committed, ` +
      `${unchanged.length} unchanged`,
  );
  assert.ok(unchanged.length > 0, "idle cuts between two lines are unchanged");
  assert.ok(unchanged.every((s) => s.dirtyPages === 0));
  // An unchanged cut equals the newest committed epoch before it (a boot's first cut commits).
  let last = -1;
  for (const s of stats) {
    if (!s.unchanged) last = s.epoch;
    else {assert.equal(
        s.epoch,
        last,
        `an unchanged cut reports the epoch it equals: ${JSON.stringify(s)}`,
      );}
  }
  for (let i = 1; i < epochs.length; i++) {
    assert.ok(epochs[i] >= epochs[i - 1], `line ${i + 1} released by an older epoch`);
  }
});
