/**
 * The fault-injection scenario: `deno task scenario faults [--seed S]
 * [--iterations N] [--policy NAME=POLICY,...]`.
 *
 * A machine runs the counter and the ledger (servers/apps/ledger.ts, which
 * uses the memory, FS and network servers and checks its own data). Each
 * iteration picks, from the seed, a component (every server init starts,
 * from servers/init/config.ts, and the two apps) and a fault (kernel/abi/protocol.ts FAULT_KINDS), waits a seeded
 * moment, injects it through the machine's fault-injection port and checks:
 *
 * - contained: a crash (`throw`, `loop`) is detected and the component
 *   restarts by its policy; a misuse fault's every attempt is refused with
 *   a named error (its `fault-report` lists no breach);
 * - kernel survived: the machine is still running and committing;
 * - others unaffected: no other component failed, and both apps make
 *   progress again (released console lines, so checkpoints commit);
 * - committed data lost: the ledger never reports a lost entry, also after
 *   a clean shutdown and resume every `--verify-every` iterations and at
 *   the end; the counter's released output never steps back.
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import type { MachineLine } from "../hw/board.ts";
import { CRASH_FAULTS, FAULT_KINDS, type FaultKind } from "../kernel/abi/protocol.ts";
import { ConsoleView, MachineProcess } from "./machine_process.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { removeImage, tempImage } from "./temp_image.ts";
import { APPS, servicesFor } from "../servers/init/config.ts";

/** The apps the scenario runs. */
const SCENARIO_APPS = ["counter", "ledger"];
/** Components faults go into, with their programs: init's servers and the apps, from its configuration. */
const TARGETS: Record<string, string> = Object.fromEntries([
  ...servicesFor(SCENARIO_APPS).map((s) => [s.name, s.program]),
  ...SCENARIO_APPS.map((a) => [a, APPS[a].program]),
]);
/** The kernel counts failures in a row within 500 ms of a start; inject later than that. */
const STABLE_MS = 600;
/** The watchdog budget the scenario runs with, so endless loops are caught quickly. */
const HANDLER_BUDGET_MS = 250;
/** Longest wait for one fault's outcome or for the apps to make progress again. */
const OUTCOME_TIMEOUT_MS = 60_000;

/** Counts of one fault kind. */
export interface KindCount {
  injected: number;
  contained: number;
}

/** Summary of a fault-injection run. */
export interface FaultsResult {
  seed: number;
  iterations: number;
  injected: number;
  contained: number;
  /** Iterations after which the machine was still running and committing. */
  kernelSurvived: number;
  /** Iterations in which no other component failed and both apps made progress. */
  othersUnaffected: number;
  committedDataLost: number;
  consoleRollbacks: number;
  resumes: number;
  byKind: Record<string, KindCount>;
  byTarget: Record<string, KindCount>;
  violations: string[];
}

type LogLine = Extract<MachineLine, { t: "log" }>;
const isLog = (l: MachineLine): l is LogLine => l.t === "log";

/** Watches one machine (and its resumes): threads, failures, fault reports, app progress. */
class FaultObserver {
  readonly view = new ConsoleView();
  /** performance.now() when each program's thread last became ready. */
  readonly readyAt = new Map<string, number>();
  ledgerAcked = 0;
  counterSeen = 0;
  lost: string[] = [];
  /** Released counter lines that do not follow the one before: each is a violation. */
  readonly counterBreaks: string[] = [];
  /** The ledger's checks at its starts, as first shown to the outside. */
  readonly verified: Array<{ entries: number; lost: number }> = [];
  private ledgerThread = -1;
  private counterThread = -1;

  observe(l: MachineLine): void {
    if (l.t === "log") {
      const ready = /^kernel: thread \d+ \((\S+)\) ready in/.exec(l.text);
      if (ready) this.readyAt.set(ready[1], performance.now());
      const failed = /^kernel: thread \d+ \((\S+)\) failed/.exec(l.text);
      if (failed) this.readyAt.delete(failed[1]);
      if (/^board: system rollback/.test(l.text)) this.readyAt.clear();
      return;
    }
    if (l.t !== "console") return;
    const fresh = this.view.accept(l);
    if (l.name === "ledger") {
      this.ledgerThread = l.thread;
      for (const m of fresh.matchAll(/^ledger (\d+)$/gm)) {
        this.ledgerAcked = Math.max(this.ledgerAcked, Number(m[1]));
      }
      for (const m of fresh.matchAll(/^ledger LOST .*$/gm)) this.lost.push(m[0]);
      for (const m of fresh.matchAll(/^ledger verified (\d+) entries, (\d+) lost$/gm)) {
        this.verified.push({ entries: Number(m[1]), lost: Number(m[2]) });
      }
    }
    if (l.name === "counter") {
      this.counterThread = l.thread;
      for (const m of fresh.matchAll(/^counter (\d+)$/gm)) {
        const n = Number(m[1]);
        if (n !== this.counterSeen + 1) {
          this.counterBreaks.push(`counter went from ${this.counterSeen} to ${n}`);
        }
        this.counterSeen = n;
      }
    }
  }

  /** Milliseconds the program has been up since it last became ready (-1 while it is not). */
  upMs(program: string): number {
    const at = this.readyAt.get(program);
    return at === undefined ? -1 : performance.now() - at;
  }
}

/** Runs the fault-injection scenario. */
export async function faultsScenario(
  seed: number,
  iterations: number,
  opts: {
    log?: (s: string) => void;
    onStep?: OnStep;
    policy?: string;
    verifyEvery?: number;
    /** Print the machine's log lines too (kernel, faults, servers). */
    trace?: boolean;
  } = {},
): Promise<FaultsResult> {
  const log = opts.log ?? (() => {});
  const verifyEvery = opts.verifyEvery ?? 250;
  const rng = new Prng(seed);
  const image = tempImage("faults");
  const obs = new FaultObserver();
  const result = emptyResult(seed, iterations);
  const flags = [
    "--fault-injection",
    "--handler-budget-ms",
    String(HANDLER_BUDGET_MS),
    ...(opts.policy ? ["--policy", opts.policy] : []),
  ];
  const start = (extra: string[]) => {
    const m = MachineProcess.start(image, [...flags, ...extra]);
    m.onLine((l) => {
      obs.observe(l);
      if (opts.trace && l.t === "log") log(`  ${l.text}`);
      if (
        opts.trace && l.t === "console" && l.name === "ledger" && !/^ledger \d+\n$/.test(l.text)
      ) {
        log(`  console: ${l.text.trim()}`);
      }
    });
    return m;
  };
  let m = start(["--fresh", "--apps", SCENARIO_APPS.join(",")]);
  try {
    await m.ready();
    await progress(m, obs, 1, 1);
    for (let i = 1; i <= iterations; i++) {
      const target = rng.pick(Object.keys(TARGETS));
      const fault = rng.pick(FAULT_KINDS);
      const faultSeed = rng.nextU32();
      await sleep(rng.int(0, 40));
      await stable(m, obs, TARGETS[target]);
      const injectAt = performance.now();
      const outcome = await injectOne(m, obs, target, fault, faultSeed);
      const outcomeMs = performance.now() - injectAt;
      count(result, `iteration ${i}: ${fault} in ${target}`, fault, target, outcome);
      if (i % verifyEvery === 0 || i === iterations) {
        m = await shutdownAndResume(m, start, obs, result);
      }
      if (i % 50 === 0 || i === iterations) {
        log(
          `iteration ${i}/${iterations}: injected ${result.injected}, contained ${result.contained}, ` +
            `ledger at ${obs.ledgerAcked}, counter at ${obs.counterSeen}, violations ${result.violations.length}`,
        );
      }
      opts.onStep?.(i, { "inject to outcome (ms)": outcomeMs }, `${fault} in ${target}`);
      if (!outcome.kernelAlive || result.violations.length > 0) break;
    }
  } catch (e) {
    result.violations.push(`scenario stopped: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    await m.shutdown();
    removeImage(image);
  }
  return observed(result, obs);
}

/** A result with nothing injected yet. */
function emptyResult(seed: number, iterations: number): FaultsResult {
  return {
    seed,
    iterations,
    injected: 0,
    contained: 0,
    kernelSurvived: 0,
    othersUnaffected: 0,
    committedDataLost: 0,
    consoleRollbacks: 0,
    resumes: 0,
    byKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, { injected: 0, contained: 0 }])),
    byTarget: Object.fromEntries(
      Object.keys(TARGETS).map((t) => [t, { injected: 0, contained: 0 }]),
    ),
    violations: [],
  };
}

/** Counts one injected fault's outcome (`what` names it in a violation). */
function count(
  result: FaultsResult,
  what: string,
  fault: FaultKind,
  target: string,
  outcome: Outcome,
): void {
  result.injected++;
  result.byKind[fault].injected++;
  result.byTarget[target].injected++;
  if (outcome.contained) {
    result.contained++;
    result.byKind[fault].contained++;
    result.byTarget[target].contained++;
  } else result.violations.push(`${what}: ${outcome.why}`);
  if (outcome.kernelAlive) result.kernelSurvived++;
  if (outcome.othersOk) result.othersUnaffected++;
  else result.violations.push(`${what}: ${outcome.othersWhy}`);
}

/** Adds what the outside observer saw over the whole run: lost data, counter breaks, rollbacks. */
function observed(result: FaultsResult, obs: FaultObserver): FaultsResult {
  result.committedDataLost = obs.lost.length;
  for (const l of obs.lost) result.violations.push(`committed data lost: ${l}`);
  for (const b of obs.counterBreaks) result.violations.push(b);
  result.consoleRollbacks = obs.view.rollbacksSeen;
  if (obs.view.rollbacksSeen > 0) {
    result.violations.push(`the outside saw ${obs.view.rollbacksSeen} console rollbacks`);
  }
  return result;
}

/** What one injected fault did. */
interface Outcome {
  contained: boolean;
  why?: string;
  kernelAlive: boolean;
  othersOk: boolean;
  othersWhy?: string;
}

async function injectOne(
  m: MachineProcess,
  obs: FaultObserver,
  target: string,
  fault: FaultKind,
  seed: number,
): Promise<Outcome> {
  const since = m.lines.length;
  const { ledgerAcked, counterSeen } = obs;
  await m.inject(target, fault, seed);
  const out: Outcome = { contained: false, kernelAlive: true, othersOk: false };
  const injected = await m.waitFor(
    (l) =>
      isLog(l) &&
      new RegExp(`^fault: (injecting ${fault} into ${target} |no running)`).test(l.text),
    OUTCOME_TIMEOUT_MS,
    since,
  ) as LogLine;
  const thread = /\(thread (\d+)\)/.exec(injected.text)?.[1];
  if (!thread) return { ...out, why: injected.text, othersWhy: "not checked" };
  try {
    if (CRASH_FAULTS.includes(fault)) {
      const failed = new RegExp(`^kernel: thread ${thread} \\(.*\\) failed: `);
      const back = new RegExp(`^kernel: (thread ${thread} \\(.*\\) ready in|system rollback)`);
      await m.waitFor((l) => isLog(l) && failed.test(l.text), OUTCOME_TIMEOUT_MS, since);
      await m.waitFor((l) => isLog(l) && back.test(l.text), OUTCOME_TIMEOUT_MS, since);
      out.contained = true;
    } else {
      const line = await m.waitFor(
        (l) =>
          isLog(l) && l.from?.endsWith(`#${thread}`) === true &&
          l.text.startsWith("fault-report "),
        OUTCOME_TIMEOUT_MS,
        since,
      ) as LogLine;
      const report = JSON.parse(line.text.slice(line.text.indexOf("{"))) as { breaches: string[] };
      out.contained = report.breaches.length === 0;
      if (!out.contained) out.why = `breaches: ${report.breaches.join("; ")}`;
    }
  } catch (e) {
    out.why = (e as Error).message.split("\n")[0];
  }
  try {
    await progress(m, obs, ledgerAcked + 1, counterSeen + 1);
  } catch (e) {
    out.kernelAlive = !(await exitedWithin(m, 0));
    out.othersWhy = `apps did not make progress: ${(e as Error).message.split("\n")[0]}`;
    return out;
  }
  const others = m.lines.slice(since).filter((l) =>
    isLog(l) && /^kernel: thread (\d+) .* failed: /.test(l.text) &&
    !l.text.startsWith(`kernel: thread ${thread} `)
  );
  out.othersOk = others.length === 0;
  if (!out.othersOk) out.othersWhy = (others[0] as LogLine).text;
  return out;
}

/** Waits until `program` has been up for STABLE_MS (a dormant server is woken by the ledger). */
async function stable(m: MachineProcess, obs: FaultObserver, program: string): Promise<void> {
  for (const deadline = performance.now() + OUTCOME_TIMEOUT_MS; performance.now() < deadline;) {
    const up = obs.upMs(program);
    if (up >= STABLE_MS) return;
    await sleep(up < 0 ? 20 : STABLE_MS - up);
  }
  throw new Error(
    `${program} did not come up within ${OUTCOME_TIMEOUT_MS} ms (machine ${
      await exitedWithin(m, 0) ? "exited" : "running"
    })`,
  );
}

/** Waits until the ledger and the counter have released at least these numbers. */
async function progress(
  m: MachineProcess,
  obs: FaultObserver,
  ledger: number,
  counter: number,
): Promise<void> {
  const ok = () => obs.ledgerAcked >= ledger && obs.counterSeen >= counter;
  if (ok()) return;
  await m.waitFor(() => ok(), OUTCOME_TIMEOUT_MS);
}

/** Clean shutdown, resume, and the ledger's check of everything it acknowledged. */
async function shutdownAndResume(
  m: MachineProcess,
  start: (extra: string[]) => MachineProcess,
  obs: FaultObserver,
  result: FaultsResult,
): Promise<MachineProcess> {
  const status = await m.shutdown();
  if (status.code !== 0) result.violations.push(`clean shutdown exited with ${status.code}`);
  const acked = obs.ledgerAcked;
  const next = start([]);
  await next.ready();
  result.resumes++;
  const before = obs.verified.length;
  await next.waitFor(() => obs.verified.length > before, OUTCOME_TIMEOUT_MS);
  const v = obs.verified[before];
  // The ledger checks its last 4095 entries (servers/apps/ledger.ts CHECKABLE_ENTRIES).
  if (v.lost !== 0 || v.entries < Math.min(acked, 4095)) {
    result.violations.push(
      `after resume the ledger verified ${v.entries} entries, ${v.lost} lost (acknowledged: ${acked})`,
    );
  }
  await progress(next, obs, acked + 1, obs.counterSeen + 1);
  return next;
}

async function exitedWithin(m: MachineProcess, ms: number): Promise<boolean> {
  return await Promise.race([m.exited.then(() => true), sleep(ms).then(() => false)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
