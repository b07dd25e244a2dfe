/**
 * The net scenario (`deno task scenario net --seed S --iterations N`): the
 * echo app inside the machine, the switch beside it, and real TCP clients
 * of it on 127.0.0.1 while the machine is SIGKILLed at seeded instants and
 * resumed.
 *
 * The clients ({@link EchoClient}) check everything from the outside:
 * - steady clients send lines one at a time or in bursts, without pause;
 *   every reply must be the next number and the line sent (exactly once,
 *   in order, never from rolled-back state), and their connections must
 *   never end;
 * - a churning client opens a connection, sends a few lines, half-closes,
 *   and expects every reply and then the app's close, again and again, so
 *   kills land while connections open and close;
 * - after each kill, while the machine is down, a new client connects and
 *   sends a line: it must be served after the resume.
 *
 * After the last resume every steady client must make progress (liveness).
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { EchoClient } from "./echo_client.ts";
import { AppMachine } from "./app_machine.ts";

/** What a net scenario run saw. */
export interface NetScenarioResult {
  scenario: "net";
  seed: number;
  kills: number;
  resumes: number;
  /** Connections opened in all (steady, churned and late). */
  connections: number;
  /** Lines sent and replies checked, over every connection. */
  lines: number;
  replies: number;
  /** Bytes sent to the app and received from it. */
  bytesSent: number;
  bytesReceived: number;
  /** Connections that ended (EOF or reset) before their client ended them. */
  broken: string[];
  violations: string[];
}

/** A line of `len` letters from `rng`. */
function payload(rng: Prng, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += String.fromCharCode(97 + rng.int(0, 25));
  return s;
}

/** Runs the net scenario: `kills` seeded SIGKILLs of the machine under echo traffic. */
export async function netScenario(
  seed: number,
  kills: number,
  opts: { clients?: number; log?: (s: string) => void; onStep?: OnStep } = {},
): Promise<NetScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const r: NetScenarioResult = {
    scenario: "net",
    seed,
    kills: 0,
    resumes: 0,
    connections: 0,
    lines: 0,
    replies: 0,
    bytesSent: 0,
    bytesReceived: 0,
    broken: [],
    violations: [],
  };
  const em = await AppMachine.start("echo", { label: "net" });
  const port = em.port;
  const steady: EchoClient[] = [];
  const finished: EchoClient[] = [];
  let stopping = false;
  const tasks: Promise<void>[] = [];
  try {
    /** Sends lines without pause: one at a time or in bursts of up to 5. */
    const steadyLoop = async (c: EchoClient, crng: Prng) => {
      while (!stopping && c.broken === undefined) {
        const burst = crng.int(1, 5);
        for (let i = 0; i < burst; i++) await c.send(`${c.name}:${payload(crng, crng.int(0, 60))}`);
        await c.replied(c.replies + c.outstanding);
      }
    };
    const startSteady = async (name: string, crng: Prng) => {
      const c = await EchoClient.connect(name, port);
      r.connections++;
      steady.push(c);
      tasks.push(steadyLoop(c, crng));
    };
    for (let i = 0; i < (opts.clients ?? 4); i++) {
      await startSteady(`steady${i}`, new Prng(seed * 31 + i));
    }
    const churn = async (crng: Prng) => {
      for (let round = 1; !stopping; round++) {
        const c = await EchoClient.connect(`churn${round}`, port);
        r.connections++;
        const n = crng.int(1, 3);
        for (let i = 0; i < n; i++) await c.send(`${c.name}:${payload(crng, crng.int(1, 20))}`);
        await c.finish();
        finished.push(c);
        if (!c.sawEof) break;
      }
    };
    tasks.push(churn(new Prng(seed * 31 + 1000)));

    for (let i = 1; i <= kills; i++) {
      const delayMs = rng.int(50, 500);
      await new Promise((res) => setTimeout(res, delayMs));
      await em.crash();
      r.kills++;
      // A client that connects while the machine is down must be served after the resume.
      const late = await EchoClient.connect(`late${i}`, port);
      r.connections++;
      await late.send(`late${i}:${payload(rng, 10)}`);
      steady.push(late);
      tasks.push(steadyLoop(late, new Prng(seed * 31 + 2000 + i)));
      const resumeAt = performance.now();
      await em.resume();
      const resumeMs = performance.now() - resumeAt;
      r.resumes++;
      const progress = steady.map((c) => `${c.name} ${c.replies}`).join(", ");
      log(`kill ${i}/${kills} after ${delayMs} ms; resumed; replies: ${progress}`);
      opts.onStep?.(i, {
        "resume (ms)": resumeMs,
        "replies to steady clients": steady.reduce((n, c) => n + c.replies, 0),
      });
      if (steady.some((c) => c.violations.length > 0 || c.broken)) break;
    }

    // Liveness: after the last resume every steady connection is answered again.
    const since = steady.map((c) => c.replies);
    const live = Promise.all(steady.map((c, i) => c.replied(since[i] + 3)));
    const timedOut = await Promise.race([
      live.then(() => false),
      new Promise<boolean>((res) => setTimeout(() => res(true), 30_000)),
    ]);
    if (timedOut) {
      const stuck = steady.filter((c, i) => c.replies < since[i] + 3).map((c) => c.name);
      r.violations.push(`no progress within 30 s after the last resume: ${stuck.join(", ")}`);
    }
    stopping = true;
    await Promise.race([
      Promise.all(tasks),
      new Promise((res) => setTimeout(res, 30_000)),
    ]);
    for (const c of steady) {
      await Promise.race([c.finish(), new Promise((res) => setTimeout(res, 30_000))]);
      finished.push(c);
    }
  } finally {
    stopping = true;
    for (const c of [...steady, ...finished]) c.abort();
    await em.stop();
  }
  for (const c of new Set([...steady, ...finished])) {
    r.lines += c.replies + c.outstanding;
    r.replies += c.replies;
    r.bytesSent += c.bytesSent;
    r.bytesReceived += c.bytesReceived;
    r.violations.push(...c.violations);
    if (c.broken) r.broken.push(`${c.name}: ${c.broken}`);
    else if (!c.sawEof) r.violations.push(`${c.name}: the app never closed after the half-close`);
  }
  r.violations.push(...em.sw.violations().map((v) => `switch: ${v}`));
  return r;
}
