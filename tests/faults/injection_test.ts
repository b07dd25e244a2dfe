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
import { freshSeed } from "../../tools/prng.ts";
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

/**
 * Injects `throw` into `target` on a machine whose counter runs under
 * `policy`; returns the machine lines once the counter has printed again.
 */
async function failUnderPolicy(target: string, policy: string, extra: string[] = []) {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fault-injection",
    "--policy",
    `${target}=${policy}`,
    "--apps",
    "counter",
    ...extra,
  ]);
  try {
    await m.ready();
    const counter = await m.waitFor((l) => l.t === "console" && l.name === "counter");
    const thread = counter.t === "console" ? counter.thread : -1;
    // Wait until checkpoints have committed some output, then fail the target.
    await m.waitFor((l) => l.t === "console" && l.name === "counter" && /counter 8\n/.test(l.text));
    // The line is released at a commit; let the counter tick on past it before the failure.
    await new Promise((r) => setTimeout(r, 150));
    await m.inject(target, "throw", 1);
    await m.waitFor((l) => isLog(l, /^kernel: thread \d+ .* failed: .*injected fault/));
    const failedAt = m.lines.length;
    await m.waitFor(
      (l) => l.t === "console" && l.thread === thread && /counter \d+\n$/.test(l.text),
      60_000,
      failedAt,
    );
    const after = m.lines.length;
    await m.waitFor((l) => l.t === "console" && l.thread === thread, 60_000, after);
    assert.equal((await m.shutdown()).code, 0);
    return { lines: m.lines, thread };
  } finally {
    await m.kill();
    removeImage(image);
  }
}

Deno.test("policy rollback: the failed component's memory and unreleased output go back to the last commit", async () => {
  // Checkpoints every 400 ms: the counter (a tick every 20 ms) has changed since the last one.
  const { lines, thread } = await failUnderPolicy("counter", "rollback", [
    "--checkpoint-ms",
    "400",
  ]);
  const rolled = lines.find((l) => isLog(l, /^kernel: rolled \d+ memory objects/));
  assert.ok(rolled && rolled.t === "log", "the kernel rolled the counter's memory back");
  const changed = Number(/\((\d+) pages changed\)/.exec(rolled.text)?.[1]);
  assert.ok(changed >= 1, `pages the rollback changed: ${rolled.text}`);
  // What the outside saw never steps back, repeats or skips.
  const values = counterValues(new ConsoleView(), lines, thread);
  values.forEach((v, i) => assert.equal(v, i + 1, `counter line ${i + 1}`));
});

Deno.test("policy fresh: the failed component restarts on its memory as it was", async () => {
  const { lines, thread } = await failUnderPolicy("counter", "fresh");
  assert.ok(!lines.some((l) => isLog(l, /^kernel: rolled/)));
  assert.ok(lines.some((l) => isLog(l, /^kernel: restarting thread \d+ \(policy fresh/)));
  const values = counterValues(new ConsoleView(), lines, thread);
  values.forEach((v, i) => assert.equal(v, i + 1, `counter line ${i + 1}`));
});

Deno.test("policy system-rollback: a failed net driver rolls the whole system back; the outside sees no step back", async () => {
  const { lines, thread } = await failUnderPolicy("net", "system-rollback");
  assert.ok(lines.some((l) => isLog(l, /^board: system rollback/)));
  const boots = lines.filter((l) => l.t === "boot");
  assert.equal(boots.length, 2, "booted, then resumed in the same process");
  assert.equal(boots[1].t === "boot" && boots[1].fresh, false);
  const view = new ConsoleView();
  const values = counterValues(view, lines, thread);
  assert.equal(view.rollbacksSeen, 0);
  values.forEach((v, i) => assert.equal(v, i + 1, `counter line ${i + 1}`));
});

Deno.test("transparent retry: a client whose requests are idempotent does not see its server's death", async () => {
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
    assert.deepEqual(failed, [], "no ledger step failed: the call cut short was sent again");
    assert.ok(
      m.lines.slice(since).some((l) =>
        isLog(l, /ledger: \d+ calls sent again after their server died/)
      ),
      "calls to the dead file server were sent again",
    );
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});
