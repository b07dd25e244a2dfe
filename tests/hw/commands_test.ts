/**
 * The machine's command port (hw/commands.ts): parsing, and a running
 * machine whose checkpoints are turned on and off through it. Also the
 * timer arithmetic that makes a 1 ms period mean every tick.
 */

import assert from "node:assert/strict";
import {
  COMMAND_WORDS,
  parseCheckpointMs,
  parseCommandWords,
  toCommand,
} from "../../hw/commands.ts";
import { periodElapsed, TIMER_TICK_MS } from "../../kernel/abi/limits.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

Deno.test("commands: words and JSON give the same commands; bad ones say what is allowed", () => {
  assert.deepEqual(parseCommandWords("checkpoint-ms 5"), { t: "checkpoint-ms", ms: 5 });
  assert.deepEqual(parseCommandWords("checkpoint-now"), { t: "checkpoint-now" });
  assert.deepEqual(toCommand({ t: "checkpoint-now" }), { t: "checkpoint-now" });
  assert.deepEqual(parseCommandWords("  inject fs throw 7 "), {
    t: "inject",
    target: "fs",
    fault: "throw",
    seed: 7,
  });
  assert.deepEqual(toCommand({ t: "inject", target: "fs", fault: "loop" }), {
    t: "inject",
    target: "fs",
    fault: "loop",
    seed: 1,
  });
  assert.equal(parseCheckpointMs("0"), 0);
  assert.throws(() => parseCheckpointMs("1.5"), /integer in 0…60000/);
  assert.throws(() => parseCheckpointMs("-1"), /integer in 0…60000/);
  assert.throws(() => parseCheckpointMs(""), /integer in 0…60000/);
  assert.throws(() => parseCommandWords("checkpoint-ms"), /checkpoint-ms must be an integer/);
  assert.throws(() => parseCommandWords("checkpoint-ms x"), /checkpoint-ms must be an integer/);
  assert.throws(() => parseCommandWords("inject fs melt"), /fault, one of throw/);
  assert.throws(() => parseCommandWords("reboot"), /unknown command "reboot".*checkpoint-ms N/);
  assert.throws(() => toCommand(null), /unknown command/);
  assert.throws(() => toCommand({ t: "checkpoint-ms", ms: "5" }), /integer/);
});

Deno.test("commands: console-input carries one line of bounded length and its number", () => {
  assert.deepEqual(toCommand({ t: "console-input", text: "ls /", seq: 4 }), {
    t: "console-input",
    text: "ls /",
    seq: 4,
  });
  assert.deepEqual(toCommand({ t: "console-input", text: "pwd", seq: -1 }), {
    t: "console-input",
    text: "pwd",
  });
  assert.throws(() => toCommand({ t: "console-input" }), /needs a text/);
  assert.throws(() => toCommand({ t: "console-input", text: "a\nb" }), /one line/);
  assert.throws(() => toCommand({ t: "console-input", text: "x".repeat(1025) }), /at most 1024/);
});

Deno.test("timer: a period is due on the tick that ends it, even a little early", () => {
  assert.ok(periodElapsed(10.98, 10, TIMER_TICK_MS), "a tick 0.98 ms after the last one");
  assert.ok(!periodElapsed(10.4, 10, TIMER_TICK_MS), "half a tick is not a period");
  assert.ok(periodElapsed(14.9, 10, 5), "5 ms period, fifth tick slightly early");
  assert.ok(!periodElapsed(13.9, 10, 5), "5 ms period, fourth tick");
});

Deno.test("commands: checkpoint-ms turns checkpoints on and off in a running machine", async () => {
  const image = tempImage();
  // --digest: a line at every commit, as it happens. The counter's lines (a tick every 20 ms)
  // are the clock: while checkpoints are off the board releases them at once.
  const m = MachineProcess.start(image, [
    "--fresh",
    "--checkpoint-ms",
    "0",
    "--commands",
    "--digest",
    "--apps",
    "counter",
  ]);
  const commits = () => m.lines.filter((l) => l.t === "digest" && l.when === "commit").length;
  const counterLines = () =>
    m.lines.reduce((n, l) => n + (l.t === "console" ? l.text.split("\n").length - 1 : 0), 0);
  const logged = (text: string) => (l: { t: string; text?: string }) =>
    l.t === "log" && l.text === text;
  try {
    await m.ready();
    await m.waitFor(() => counterLines() >= 10);
    assert.equal(commits(), 0, "--checkpoint-ms 0: no checkpoint in 10 counter ticks");
    await m.send({ t: "checkpoint-ms", ms: 1 });
    await m.waitFor(logged("kernel: checkpoints every 1 ms"), 30_000);
    await m.waitFor(() => commits() >= 20, 30_000);
    await m.send({ t: "checkpoint-ms", ms: 0 });
    await m.waitFor(logged("kernel: checkpoints off"), 30_000);
    // A commit may be in flight at the switch: let 3 counter ticks pass, then none in 15 more.
    const off = counterLines();
    await m.waitFor(() => counterLines() >= off + 3);
    const settled = commits();
    await m.waitFor(() => counterLines() >= off + 18);
    assert.equal(commits(), settled, 'checkpoints went on after "checkpoints off"');
    await m.send({ t: "reboot" } as never);
    await m.waitFor(
      (l) => l.t === "log" && l.text.startsWith("board: command refused (unknown command"),
      30_000,
    );
    const status = await m.shutdown();
    assert.equal(status.code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("commands: checkpoint-now takes one at once and says so; with checkpoints off it is refused", async () => {
  const image = tempImage();
  // A period of a minute: the checkpoint the event names can only be the one asked for
  // (no app writes output, so group commit starts none either).
  const m = MachineProcess.start(image, ["--fresh", "--checkpoint-ms", "60000", "--commands"]);
  try {
    await m.ready();
    await m.send({ t: "checkpoint-now" });
    const done = await m.waitFor(
      (l): l is Extract<typeof l, { t: "event" }> => l.t === "event" && l.kind === "checkpoint-now",
      30_000,
    );
    assert.equal(done.component, "command-port");
    assert.match(done.text, /^checkpoint (\d+) taken on request: pause \d+ us, commit \d+ us/);
    assert.ok(done.epoch >= 1, `the event names a committed epoch: ${done.epoch}`);
    await m.send({ t: "checkpoint-ms", ms: 0 });
    await m.send({ t: "checkpoint-now" });
    await m.waitFor(
      (l) =>
        l.t === "log" && l.text === "kernel: checkpoint-now refused: checkpoints are off " +
            "(checkpoint-ms 0)",
      30_000,
    );
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("commands: every supervisor verb is one parseCommandWords knows, so none goes to the shell", () => {
  // The break this catches: a verb added to the parser but not to COMMAND_WORDS, or the reverse.
  for (const verb of COMMAND_WORDS) {
    let message = "";
    try {
      parseCommandWords(`${verb} 5 x 1`);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.doesNotMatch(message, /unknown command/, verb);
  }
  assert.throws(() => parseCommandWords("ls /"), /unknown command/);
});
