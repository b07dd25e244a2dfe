/**
 * Invariant 1 for all console output, under real crashes: offsets past 2^31
 * and 2^32 (the `--console-start` hook), a crash between a commit and the
 * board's releasing the text it covers, and text that is not ASCII. One
 * observer (`ConsoleView`) watches every run of a machine, as a user would.
 */

import assert from "node:assert/strict";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";
import type { MachineLine } from "../../hw/board.ts";
import { BURST_LINES, burstLine } from "../programs/burst.ts";
import { removeImage, tempImage } from "../helpers.ts";

type ConsoleLine = Extract<MachineLine, { t: "console" }>;

/** Watches the `chatty` program's output across machines: its numbers, lines and frames. */
class ChattyWatch {
  readonly view = new ConsoleView();
  readonly lines: string[] = [];
  /** Byte offset of the end of the newest frame. */
  end = 0;
  firstOff = -1;

  watch(m: MachineProcess): void {
    m.onLine((l) => {
      if (l.t !== "console" || l.name !== "chatty") return;
      if (this.firstOff < 0) this.firstOff = l.off;
      this.end = Math.max(this.end, l.off + new TextEncoder().encode(l.text).length);
      this.lines.push(...this.view.accept(l as ConsoleLine).split("\n").filter((x) => x !== ""));
    });
  }

  /** Every line reads `chatty N FILLER` with N = 1, 2, 3, … */
  check(filler: string): void {
    this.lines.forEach((line, i) => assert.equal(line, `chatty ${i + 1} ${filler}`));
    assert.equal(this.view.rollbacksSeen, 0, "no re-sent byte differed");
    assert.equal(this.view.bytesMissed, 0, "no byte was missed");
  }
}

/**
 * Runs `app` (chatty's path and arguments) on a fresh machine and SIGKILLs it
 * `crashes` times: the first time once `firstKill` holds, then each time 20
 * lines after the resume.
 */
async function chattyAcrossCrashes(
  app: string,
  extra: string[],
  crashes: number,
  firstKill: (w: ChattyWatch) => boolean,
): Promise<ChattyWatch> {
  const image = tempImage();
  const w = new ChattyWatch();
  try {
    let m = MachineProcess.start(image, ["--fresh", "--apps", app, ...extra]);
    w.watch(m);
    for (let i = 0; i < crashes; i++) {
      if (i === 0) await m.waitFor(() => firstKill(w));
      await m.kill();
      const seen = w.lines.length;
      m = MachineProcess.start(image);
      w.watch(m);
      await m.waitFor(() => w.lines.length >= seen + 20);
    }
    assert.equal((await m.shutdown()).code, 0);
    return w;
  } finally {
    removeImage(image);
  }
}

const FILLER_X = "x".repeat(1000);

for (const boundary of [2 ** 31, 2 ** 32]) {
  Deno.test(`console output crosses byte offset ${boundary} intact, across a crash`, async () => {
    const start = boundary - 20_000;
    const w = await chattyAcrossCrashes(
      "tests/programs/chatty.ts?timerMs=5",
      ["--console-start", String(start)],
      2,
      (w) => w.end > boundary + 10_000,
    );
    assert.equal(w.firstOff, start, "the console started where the hook put it");
    assert.ok(w.end > boundary + 40_000, `printed past ${boundary} (to ${w.end})`);
    w.check(FILLER_X);
  });
}

Deno.test("console text that is not ASCII comes through crashes whole, counted in bytes", async () => {
  const unit = "é→😀";
  const w = await chattyAcrossCrashes(
    `tests/programs/chatty.ts?timerMs=5&filler=${unit}`,
    [],
    3,
    (w) => w.lines.length >= 100, // past the ring (64 KiB): a re-send starts anywhere in a character
  );
  w.check(unit.repeat(Math.ceil(1000 / new TextEncoder().encode(unit).length)));
  assert.ok(w.lines.length > 100);
});

Deno.test("a crash right after a commit, before the board released its text, loses none of it", async () => {
  const image = tempImage();
  const view = new ConsoleView();
  const watch = (m: MachineProcess) =>
    m.onLine((l) => {
      if (l.t === "console" && l.name === "burst") view.accept(l);
    });
  try {
    const app = ["--apps", "tests/programs/burst.ts"];
    const first = MachineProcess.start(image, ["--fresh", ...app]);
    watch(first);
    await first.waitFor((l) => l.t === "console" && l.text.includes("burst: ready"));
    assert.equal((await first.shutdown()).code, 0);
    const halt = first.lines.find((l) => l.t === "halt");
    assert.ok(halt?.t === "halt");

    // Resumed with checkpoints slowed to a minute (and no group commit): the program prints 48
    // KiB (more than half the ring), then the next checkpoint commits it and the machine dies
    // before releasing it.
    const second = MachineProcess.start(image, [
      "--checkpoint-ms",
      "60000",
      "--group-commit",
      "off",
      "--commands",
      "--power-fail",
      `superblock-after:0@${halt.epoch + 1}`,
    ]);
    watch(second);
    await second.waitFor((l) => l.t === "log" && l.text === "burst: printed");
    await second.send({ t: "checkpoint-ms", ms: 1 });
    assert.equal((await second.exited).code, 137, "stopped right after the commit");
    assert.ok(
      !second.lines.some((l) => l.t === "console" && /^burst 0 /m.test(l.text)),
      "none of the burst was released before the power failure",
    );

    const third = MachineProcess.start(image);
    watch(third);
    const boot = await third.waitFor((l): l is Extract<MachineLine, { t: "boot" }> =>
      l.t === "boot"
    );
    assert.equal(boot.epoch, halt.epoch + 1, "the checkpoint with the burst had committed");
    await third.waitFor(() =>
      [...view.text.values()].some((t) => t.includes(`burst ${BURST_LINES - 1} `))
    );
    assert.equal((await third.shutdown()).code, 0);
    const expected = [
      "burst: ready",
      ...Array.from({ length: BURST_LINES }, (_, i) => burstLine(i)),
    ];
    assert.deepEqual([...view.text.values()], [expected.join("\n") + "\n"]);
    assert.equal(view.rollbacksSeen, 0);
    assert.equal(view.bytesMissed, 0);
  } finally {
    removeImage(image);
  }
});
