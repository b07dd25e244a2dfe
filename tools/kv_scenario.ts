/**
 * The kv scenario (`deno task scenario kv --seed S --kills N [--clients
 * N]`): the kv store inside the machine (`--apps kv`), the switch beside
 * it, and real clients that never pause while the machine is SIGKILLed at
 * seeded instants and resumed (the switch stays, so connections stay
 * open).
 *
 * Clients, each on its own keys, checked from the outside only:
 * - redis-cli processes (`redis-cli -p PORT -r -1 -i 0.001 INCR k`: one
 *   connection for the whole run, every reply printed): each reply must be
 *   exactly one more than the one before; the process must never say
 *   anything on stderr or end before the scenario ends it;
 * - raw-socket clients ({@link KvClient}), half of them pipelined (up to
 *   8 commands per write): INCR of their counter (exactly one more than
 *   the last reply), SET of a sequence-numbered value, APPEND of a
 *   numbered token (the reply, the new length, must be exactly the length
 *   of the tokens acknowledged so far plus this one), and GETs of both
 *   (exactly the last value acknowledged and exactly the tokens
 *   acknowledged, in order). A reply from state a crash rolled back, a
 *   write applied twice or lost, breaks one of these.
 *
 * At the end every acknowledged write must be there: each client's keys
 * are read on a fresh connection and compared with what it was
 * acknowledged ("lost" counts the writes missing). Connections that ended
 * before their client ended them are "broken".
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import { Prng } from "../kernel/abi/prng.ts";
import { AppMachine } from "./app_machine.ts";
import { KvClient, type Reply } from "./kv_client.ts";
import { bulkText, showReply } from "./resp_client.ts";
import { textLines } from "../hw/text_lines.ts";

/** What a kv scenario run saw. */
export interface KvScenarioResult {
  scenario: "kv";
  seed: number;
  kills: number;
  resumes: number;
  /** Commands whose reply a client received and checked. */
  acknowledged: number;
  /** Acknowledged writes missing at the end. */
  lost: number;
  violations: string[];
  /** Connections (and redis-cli processes) that ended before their client ended them. */
  broken: string[];
}

/** One raw-socket client's view of its keys: what it was acknowledged. */
interface RawState {
  name: string;
  client: KvClient;
  /** Last INCR reply (0: none yet). */
  counter: number;
  /** Sequence number of the last SET acknowledged (0: none). */
  lastSet: number;
  /** Tokens acknowledged by APPEND, in order, concatenated. */
  appended: string;
  nextSeq: number;
  acked: number;
}

/** One redis-cli process INCRing its key. */
interface CliState {
  name: string;
  key: string;
  child: Deno.ChildProcess;
  last: number;
  acked: number;
  stderr: Promise<string>;
  ended: boolean;
  done: Promise<void>;
}

const keysOf = (name: string) => ({ n: `${name}:n`, s: `${name}:s`, a: `${name}:a` });

/** A command of a raw client and the check of its reply. */
type Step = { argv: string[]; check: (r: Reply) => string | undefined };

/** The next commands of raw client `c` (1 or a pipelined batch), each with its reply's check. */
function nextSteps(c: RawState, rng: Prng, pipelined: boolean): Step[] {
  const k = keysOf(c.name), steps: Step[] = [];
  const n = pipelined ? rng.int(2, 8) : 1;
  // Expected state as the batch goes on (replies come in order).
  let counter = c.counter, lastSet = c.lastSet, appended = c.appended;
  for (let i = 0; i < n; i++) {
    const what = rng.int(0, 9);
    if (what <= 3) {
      const want = ++counter;
      steps.push({
        argv: ["INCR", k.n],
        check: (r) => {
          if (r.t !== ":" || Number(r.text) !== want) {
            return `INCR ${k.n}: ${showReply(r)}, expected :${want}`;
          }
          c.counter = want;
        },
      });
    } else if (what <= 5) {
      const seq = c.nextSeq++;
      lastSet = seq;
      steps.push({
        argv: ["SET", k.s, `v${seq}`],
        check: (r) => {
          if (r.t !== "+" || r.text !== "OK") return `SET ${k.s} v${seq}: ${showReply(r)}`;
          c.lastSet = seq;
        },
      });
    } else if (what <= 7) {
      const token = `t${c.nextSeq++},`;
      appended += token;
      const want = appended;
      steps.push({
        argv: ["APPEND", k.a, token],
        check: (r) => {
          if (r.t !== ":" || Number(r.text) !== want.length) {
            return `APPEND ${k.a} ${token}: ${showReply(r)}, expected :${want.length}`;
          }
          c.appended = want;
        },
      });
    } else if (what === 8) {
      const want = lastSet === 0 ? null : `v${lastSet}`;
      steps.push({
        argv: ["GET", k.s],
        check: (r) =>
          bulkText(r) === want
            ? undefined
            : `GET ${k.s}: ${showReply(r)}, expected ${want ?? "nil"}`,
      });
    } else {
      const want = appended === "" ? null : appended;
      steps.push({
        argv: ["GET", k.a],
        check: (r) =>
          bulkText(r) === want
            ? undefined
            : `GET ${k.a}: ${showReply(r)}, expected ${(want ?? "nil").slice(-60)}`,
      });
    }
  }
  return steps;
}

/** Starts redis-cli INCRing `key` without pause on one connection; every printed reply is checked. */
function startCli(name: string, port: number, violations: string[]): CliState {
  const key = `${name}:n`;
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(port), "-r", "-1", "-i", "0.001", "INCR", key],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const c: CliState = {
    name,
    key,
    child,
    last: 0,
    acked: 0,
    stderr: new Response(child.stderr).text(),
    ended: false,
    done: Promise.resolve(),
  };
  c.done = (async () => {
    for await (const line of textLines(child.stdout)) {
      const v = Number(line);
      if (!Number.isInteger(v) || v !== c.last + 1) {
        violations.push(`${name}: redis-cli printed "${line.slice(0, 80)}" after ${c.last}`);
      }
      c.last = Number.isInteger(v) ? v : c.last;
      c.acked++;
    }
    await child.status;
    c.ended = true;
  })();
  return c;
}

/** Resolves after `ms`. */
/** Replies each client must get after the last resume before the run ends. */
const LIVENESS_ACKS = 50;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the kv scenario: `kills` seeded SIGKILLs of the machine under client traffic. */
export async function kvScenario(
  seed: number,
  kills: number,
  opts: {
    clients?: number;
    cliClients?: number;
    log?: (s: string) => void;
    onStep?: OnStep;
  } = {},
): Promise<KvScenarioResult> {
  const log = opts.log ?? (() => {});
  const rng = new Prng(seed);
  const r: KvScenarioResult = {
    scenario: "kv",
    seed,
    kills: 0,
    resumes: 0,
    acknowledged: 0,
    lost: 0,
    violations: [],
    broken: [],
  };
  const m = await AppMachine.start("kv", { label: "kv" });
  const raws: RawState[] = [];
  const clis: CliState[] = [];
  const tasks: Promise<void>[] = [];
  let stopping = false;
  try {
    for (let i = 0; i < (opts.cliClients ?? 2); i++) {
      clis.push(startCli(`cli${i}`, m.port, r.violations));
    }
    const rawLoop = async (c: RawState, crng: Prng, pipelined: boolean) => {
      while (!stopping && c.client.broken === undefined) {
        const steps = nextSteps(c, crng, pipelined);
        const replies = await c.client.call(...steps.map((s) => s.argv));
        for (let i = 0; i < steps.length; i++) {
          const reply = replies[i];
          if (reply === undefined) return;
          c.acked++;
          const bad = steps[i].check(reply);
          if (bad) r.violations.push(`${c.name}: ${bad}`);
        }
      }
    };
    for (let i = 0; i < (opts.clients ?? 4); i++) {
      const name = `raw${i}`;
      const c: RawState = {
        name,
        client: await KvClient.connect(name, m.port),
        counter: 0,
        lastSet: 0,
        appended: "",
        nextSeq: 1,
        acked: 0,
      };
      raws.push(c);
      tasks.push(rawLoop(c, new Prng(seed * 31 + i), i % 2 === 1));
    }

    for (let i = 1; i <= kills; i++) {
      const delayMs = rng.int(50, 500);
      await sleep(delayMs);
      await m.crash();
      r.kills++;
      const resumeAt = performance.now();
      await m.resume();
      const resumeMs = performance.now() - resumeAt;
      r.resumes++;
      const progress = [
        ...raws.map((c) => `${c.name} ${c.acked}`),
        ...clis.map((c) => `${c.name} ${c.acked}`),
      ];
      log(`kill ${i}/${kills} after ${delayMs} ms; resumed; acknowledged: ${progress.join(", ")}`);
      opts.onStep?.(i, {
        "resume (ms)": resumeMs,
        "commands acknowledged": [...raws, ...clis].reduce((n, c) => n + c.acked, 0),
      });
      if (
        r.violations.length > 0 || raws.some((c) => c.client.broken) || clis.some((c) => c.ended)
      ) break;
    }

    // Liveness: after the last resume every client is answered again, for long enough that a
    // stall no resume rescues shows (a batch of several commands, a GET of a grown value).
    const since = [...raws.map((c) => c.acked), ...clis.map((c) => c.acked)];
    const all = () => [...raws.map((c) => c.acked), ...clis.map((c) => c.acked)];
    for (let waited = 0; all().some((n, i) => n < since[i] + LIVENESS_ACKS); waited += 50) {
      if (waited >= 30_000) {
        const names = [...raws.map((c) => c.name), ...clis.map((c) => c.name)];
        const stuck = names.filter((_, i) => all()[i] < since[i] + LIVENESS_ACKS);
        r.violations.push(`no progress within 30 s after the last resume: ${stuck.join(", ")}`);
        break;
      }
      await sleep(50);
    }
    stopping = true;
    const settled = await Promise.race([Promise.all(tasks).then(() => true), sleep(30_000)]);
    if (settled !== true) {
      for (const c of raws) {
        if (c.client.sent > c.client.received) {
          r.violations.push(
            `${c.name}: ${
              c.client.sent - c.client.received
            } of its commands unanswered 30 s after ` +
              `the clients stopped (sent ${c.client.sent}, answered ${c.client.received})`,
          );
        }
      }
    }
  } finally {
    stopping = true;
    for (const c of clis) {
      if (!c.ended) {
        try {
          c.child.kill("SIGTERM");
        } catch { /* gone */ }
      } else r.broken.push(`${c.name}: redis-cli ended by itself: ${(await c.stderr).trim()}`);
      await c.done;
    }
    for (const c of raws) {
      if (c.client.broken) r.broken.push(`${c.name}: ${c.client.broken}`);
      await c.client.close();
    }
  }
  try {
    await finalCheck(m.port, raws, clis, r);
  } finally {
    await m.stop();
  }
  r.acknowledged = raws.reduce((n, c) => n + c.acked, 0) + clis.reduce((n, c) => n + c.acked, 0);
  r.violations.push(...m.sw.violations().map((v) => `switch: ${v}`));
  return r;
}

/** Reads every client's keys on a fresh connection: each acknowledged write must be there. */
async function finalCheck(
  port: number,
  raws: RawState[],
  clis: CliState[],
  r: KvScenarioResult,
): Promise<void> {
  const check = await KvClient.connect("check", port);
  try {
    for (const c of raws) {
      const k = keysOf(c.name);
      const [n, s, a] = await check.call(["GET", k.n], ["GET", k.s], ["GET", k.a]);
      const counter = Number(bulkText(n) ?? 0);
      const setSeq = Number(bulkText(s)?.slice(1) ?? 0);
      const tokens = bulkText(a) ?? "";
      // A client whose connection broke may have had a batch run without its replies: more, never less.
      const exact = c.client.broken === undefined;
      if (counter < c.counter || (exact && counter !== c.counter)) {
        r.lost += Math.max(0, c.counter - counter);
        r.violations.push(`${c.name}: ${k.n} is ${counter}, acknowledged ${c.counter}`);
      }
      if (setSeq < c.lastSet || (exact && setSeq !== c.lastSet)) {
        r.lost += setSeq < c.lastSet ? 1 : 0;
        r.violations.push(`${c.name}: ${k.s} is v${setSeq}, acknowledged v${c.lastSet}`);
      }
      if (!tokens.startsWith(c.appended) || (exact && tokens !== c.appended)) {
        const have = new Set(tokens.split(","));
        const missing = c.appended.split(",").filter((t) => t !== "" && !have.has(t));
        r.lost += missing.length;
        r.violations.push(
          `${c.name}: ${k.a} is "…${tokens.slice(-60)}", acknowledged "…${
            c.appended.slice(-60)
          }" ` +
            `(${missing.length} acknowledged tokens missing)`,
        );
      }
    }
    for (const c of clis) {
      const [n] = await check.call(["GET", c.key]);
      const counter = Number(bulkText(n) ?? 0);
      // redis-cli stopped with one INCR perhaps sent and run, its reply not printed.
      if (counter < c.last || counter > c.last + 1) {
        if (counter < c.last) r.lost += c.last - counter;
        r.violations.push(`${c.name}: ${c.key} is ${counter}, redis-cli printed ${c.last} last`);
      }
    }
  } finally {
    await check.close();
  }
}
