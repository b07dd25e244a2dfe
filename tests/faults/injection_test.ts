/**
 * Invariants 4–6 under fault injection: a bounded run of `deno task
 * scenario faults` (every fault contained, the kernel and the other
 * components unaffected, no committed data lost), and the three restart
 * policies, each driven through the machine's fault-injection port.
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import { faultsScenario } from "../../tools/faults_scenario.ts";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";
import { freshSeed } from "../../kernel/abi/prng.ts";
import { removeImage, tempImage } from "../helpers.ts";

const ITERATIONS = 30;

Deno.test(`scenario faults: ${ITERATIONS} seeded faults are all contained, nothing committed is lost`, async () => {
  const seed = freshSeed();
  console.log(
    `seed ${seed} (replay: deno task scenario faults --seed ${seed} --iterations ${ITERATIONS})`,
  );
  const r = await faultsScenario(seed, ITERATIONS, { verifyEvery: 15 });
  assert.deepEqual(r.violations, [], `seed ${seed}`);
  assert.equal(r.injected, ITERATIONS);
  assert.equal(r.contained, ITERATIONS);
  assert.equal(r.kernelSurvived, ITERATIONS);
  assert.equal(r.othersUnaffected, ITERATIONS);
  assert.equal(r.committedDataLost, 0);
  assert.equal(r.resumes, 2, "the ledger was checked after two clean shutdowns and resumes");
});

/** The counter's released lines, deduplicated by offset, as numbers. */
function counterValues(view: ConsoleView, lines: MachineLine[], thread: number): number[] {
  for (const l of lines) if (l.t === "console" && l.thread === thread) view.accept(l);
  return (view.text.get(thread) ?? "").split("\n").filter((s) => s.length > 0).map((s) => {
    const m = /^counter (\d+)$/.exec(s);
    assert.ok(m, `counter line reads "${s}"`);
    return Number(m[1]);
  });
}

const isLog = (l: MachineLine, re: RegExp) => l.t === "log" && re.test(l.text);
type ConsoleLine = Extract<MachineLine, { t: "console" }>;
const consoleOf = (name: string) => (l: MachineLine): l is ConsoleLine =>
  l.t === "console" && l.name === name;

/**
 * Runs the counter beside tests/programs/faulty.ts, which throws under
 * `policy` (marking its memory and printing `faulty doomed` in the throwing
 * handler); returns the machine lines and faulty's restarted line once the
 * counter has printed five lines after it.
 */
async function throwUnderPolicy(policy: string) {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--policy",
    `faulty=${policy}`,
    "--apps",
    "counter,tests/programs/faulty.ts?fault=throw",
  ]);
  try {
    const restarted = await m.waitFor((l): l is ConsoleLine =>
      consoleOf("faulty")(l) && /^faulty restarted /m.test(l.text)
    );
    const laterCounter = (l: MachineLine) => consoleOf("counter")(l) && l.epoch > restarted.epoch;
    await m.waitFor(() => m.lines.filter(laterCounter).length >= 5);
    assert.equal((await m.shutdown()).code, 0);
    const counter = m.lines.find(consoleOf("counter"))!;
    const faulty = m.lines.filter(consoleOf("faulty")).map((l) => l.text).join("");
    return { lines: m.lines, counterThread: counter.thread, faulty };
  } finally {
    await m.kill();
    removeImage(image);
  }
}

Deno.test("policy rollback: the failed component's memory and unreleased output go back to the last commit", async () => {
  const { lines, counterThread, faulty } = await throwUnderPolicy("rollback");
  assert.match(faulty, /^faulty restarted 1 dirty 0$/m, "the mark made after the commit is gone");
  assert.doesNotMatch(faulty, /faulty doomed/, "output made after the commit was never released");
  // The counter beside it never noticed: 1, 2, 3, … with no gap or repeat.
  counterValues(new ConsoleView(), lines, counterThread).forEach((v, i) => assert.equal(v, i + 1));
});

Deno.test("policy fresh: the failed component restarts on its memory as it was", async () => {
  const { lines, counterThread, faulty } = await throwUnderPolicy("fresh");
  assert.match(faulty, /^faulty doomed\nfaulty restarted 1 dirty 1$/m, "memory and output kept");
  counterValues(new ConsoleView(), lines, counterThread).forEach((v, i) => assert.equal(v, i + 1));
});

Deno.test("policy system-rollback: a failed net driver rolls the whole system back; the outside sees no step back", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fault-injection",
    "--policy",
    "net=system-rollback",
    "--apps",
    "counter",
  ]);
  try {
    await m.ready();
    const counter = await m.waitFor(consoleOf("counter"));
    await m.inject("net", "throw", 1);
    // The system resumed in the same process, then the counter printed five lines more.
    const resumed = await m.waitFor((l) => l.t === "boot" && !l.fresh);
    const since = m.lines.indexOf(resumed);
    await m.waitFor(() => m.lines.slice(since).filter(consoleOf("counter")).length >= 5);
    assert.equal((await m.shutdown()).code, 0);
    const boots = m.lines.filter((l) => l.t === "boot");
    assert.equal(boots.length, 2, "booted, then resumed once in the same process");
    const view = new ConsoleView();
    const values = counterValues(view, m.lines, counter.thread);
    assert.equal(view.rollbacksSeen, 0, "no re-sent byte differed from what was shown");
    values.forEach((v, i) => assert.equal(v, i + 1, `counter line ${i + 1}`));
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("a call waiting in the ring of a server that dies is served by the restarted server, once", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fault-injection",
    "--handler-budget-ms",
    "250",
    "--apps",
    "ledger",
  ]);
  try {
    await m.waitFor((l) => l.t === "console" && /^ledger 5$/m.test(l.text));
    const since = m.lines.length;
    // A loop, so that the ledger's next call is waiting in the server when the watchdog stops it.
    await m.inject("fs", "loop", 1);
    await m.waitFor(
      (l) => isLog(l, /^kernel: thread \d+ \(servers\/fs\/main\.ts\) ready in/),
      60_000,
      since,
    );
    const back = m.lines.length;
    // Ten more entries, each written through the restarted file server.
    const entry = (l: MachineLine) =>
      l.t === "console" ? /ledger (\d+)\n$/.exec(l.text)?.[1] : undefined;
    const first = Number(m.lines.slice(0, back).map(entry).filter(Boolean).pop() ?? 0);
    await m.waitFor((l) => Number(entry(l) ?? 0) >= first + 10, 60_000, back);
    const failed = m.lines.slice(since).filter((l) => isLog(l, /ledger: step failed/));
    assert.deepEqual(failed, [], "no ledger step failed: its call waited for the restart");
    const resent = m.lines.slice(since).filter((l) => isLog(l, /calls sent again/));
    assert.deepEqual(resent, [], "the call still in the ring was served once, not sent again");
    const lost = m.lines.filter((l) => l.t === "console" && /LOST/.test(l.text));
    assert.deepEqual(lost, [], "every acknowledged entry is in the file");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});
