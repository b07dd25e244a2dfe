/**
 * The differential run: the same seeded command sequence
 * (tools/kv_diff_gen.ts) sent as raw RESP over TCP to two servers, side A
 * and side B (a real redis-server and the store, or two redis-servers to
 * prove the comparator's tolerance rules), every reply read with a RESP
 * reader (tools/resp_client.ts) and compared byte for byte.
 *
 * Allowed differences, and only these ({@link compareReplies}): TTL, PTTL,
 * EXPIRETIME and PEXPIRETIME within a tolerance; INFO, CLIENT LIST, CLIENT
 * ID, TIME, LASTSAVE, COMMAND COUNT only by the reply's type; HELLO but
 * its connection id; RANDOMKEY's choice; SMEMBERS, HGETALL and KEYS as
 * sorted multisets; SPOP's choice (its count must match, and every popped
 * member must have been in the set, which both sides are asked first; side
 * B is then brought to side A's set); SCAN's order and chunks (the union
 * over a full iteration must match). At the end every key of every database
 * used is read back on both (type, value, deadline).
 *
 * A mismatch prints the seed, the command index, the last 10 commands, both
 * replies and the replay command. tests/net/kv_differential_test.ts runs a
 * few seeds against the booted store; `deno task scenario kvdiff` runs a
 * long one (tools/scenario.ts).
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import { type Arg, type Reply, RespConn, showArgv, showReply } from "./resp_client.ts";
import {
  BATCH_MAX,
  type Cmd,
  DBS_USED,
  encodeCmd,
  KEYS,
  KvGenerator,
  type Mode,
  type Step,
} from "./kv_diff_gen.ts";
import { concatBytes } from "../kernel/abi/net_link.ts";
import { RedisProcess } from "./redis_process.ts";
import { AppMachine } from "./app_machine.ts";

/**
 * TTL and EXPIRETIME (seconds) may differ by this much between the sides:
 * the sides set and read a deadline at different instants, as far apart as
 * one lags behind the other (seconds on a loaded 2-core host). A wrong unit
 * (EX read as PX) or a lost deadline is still far outside it.
 */
export const TTL_TOLERANCE_S = 5;
/** PTTL and PEXPIRETIME (ms) may differ by this much (see {@link TTL_TOLERANCE_S}). */
export const TTL_TOLERANCE_MS = 5_000;
/** Commands kept for a mismatch report. */
const HISTORY = 10;
/** SCAN calls one full iteration may take on a side before it counts as endless. */
const SCAN_CALLS_MAX = 10_000;

/** A disagreement between the sides. */
export interface Mismatch {
  /** Index of the command (0-based, in the order generated). */
  index: number;
  argv: Arg[];
  a: Reply | undefined;
  b: Reply | undefined;
  why: string;
  /** The commands before it (at most 10, the last one included), with their indices. */
  last: string[];
}

/** What a run did. */
export interface DiffResult {
  seed: number;
  commands: number;
  batches: number;
  pipelined: number;
  splitBatches: number;
  expiryWaits: number;
  mismatches: Mismatch[];
}

/** Options of {@link runDiff}. */
export interface DiffOptions {
  seed: number;
  /** Commands to generate. */
  commands: number;
  portA: number;
  portB: number;
  /** Names of the sides in messages (e.g. "redis", "store"). */
  labelA?: string;
  labelB?: string;
  /** Stop after this many mismatches (after each, both sides are flushed and the run goes on). */
  maxMismatches?: number;
  /** Command names (upper case) never sent: differences already known and reported. */
  skip?: ReadonlySet<string>;
  /** The replay command's flags besides --seed and --commands. */
  replayFlags?: string;
  log?: (s: string) => void;
  /** After each step: commands sent so far; every 1000, the rate since the last 1000. */
  onStep?: OnStep;
}

/** The sides' replies to one command compared under `mode`: undefined when they agree, else why not. */
export function compareReplies(mode: Mode, a: Reply, b: Reply): string | undefined {
  if (equalBytes(a.raw, b.raw)) return undefined;
  if (a.t !== b.t) return "the replies differ in type";
  switch (mode) {
    case "exact":
      return "the replies differ";
    case "shape":
      return undefined;
    case "unordered":
      return sortedEqual(items(a), items(b)) ? undefined : "the replies differ as sets";
    case "pairs":
      return sortedEqual(pairs(a), pairs(b)) ? undefined : "the field/value pairs differ";
    case "ttl-s":
    case "ttl-ms": {
      if (a.t !== ":" || b.t !== ":") return "the replies differ";
      const x = Number(a.text), y = Number(b.text);
      if (x < 0 || y < 0) return "the replies differ (no key or no deadline on one side)";
      const tolerance = mode === "ttl-s" ? TTL_TOLERANCE_S : TTL_TOLERANCE_MS;
      return Math.abs(x - y) <= tolerance ? undefined : `they differ by more than ${tolerance}`;
    }
    case "randomkey":
      return a.t === "$" && (a.bulk === null) === (b.t === "$" && b.bulk === null)
        ? undefined
        : "one side has a key, the other none";
    case "hello": {
      if (a.t !== "*" || b.t !== "*" || !a.items || !b.items) return "the replies differ";
      const mask = (r: Reply[]) =>
        r.map((x, i) => i > 0 && textOf(r[i - 1]) === "id" ? "" : String.fromCharCode(...x.raw));
      return mask(a.items).join("|") === mask(b.items).join("|") ? undefined : "the replies differ";
    }
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function textOf(r: Reply): string | undefined {
  return r.t === "$" && r.bulk ? new TextDecoder().decode(r.bulk) : undefined;
}

function rawText(r: Reply): string {
  return Array.from(r.raw, (c) => String.fromCharCode(c)).join("");
}

function items(r: Reply): string[] | undefined {
  return r.t === "*" && r.items ? r.items.map(rawText) : undefined;
}

function pairs(r: Reply): string[] | undefined {
  const it = items(r);
  if (!it || it.length % 2 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < it.length; i += 2) out.push(`${it[i]}${it[i + 1]}`);
  return out;
}

function sortedEqual(a: string[] | undefined, b: string[] | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  const x = [...a].sort(), y = [...b].sort();
  return x.every((s, i) => s === y[i]);
}

/** A mismatch as the run prints it: seed, index, the last commands, both replies, the replay. */
export function formatMismatch(
  m: Mismatch,
  o: Pick<DiffOptions, "seed" | "commands" | "labelA" | "labelB" | "replayFlags">,
): string {
  const a = o.labelA ?? "A", b = o.labelB ?? "B";
  return [
    `mismatch: seed ${o.seed}, command ${m.index}: ${showArgv(m.argv)}: ${m.why}`,
    `  ${a}: ${showReply(m.a)}`,
    `  ${b}: ${showReply(m.b)}`,
    `  the last ${m.last.length} commands:`,
    ...m.last.map((l) => `    ${l}`),
    `  replay: deno task scenario kvdiff --seed ${o.seed} --commands ${o.commands}${
      o.replayFlags ? ` ${o.replayFlags}` : ""
    }`,
  ].join("\n");
}

/** Two connections, one to each side, and the run's bookkeeping. */
class Sides {
  a!: RespConn;
  b!: RespConn;
  index = 0;
  readonly history: string[] = [];
  readonly mismatches: Mismatch[] = [];

  constructor(readonly o: DiffOptions) {}

  async connect(): Promise<void> {
    [this.a, this.b] = await Promise.all([
      RespConn.connect(this.o.portA),
      RespConn.connect(this.o.portB),
    ]);
  }

  close(): void {
    this.a?.close();
    this.b?.close();
  }

  /** Records that command `argv` was sent; returns its index. */
  note(argv: Arg[]): number {
    const i = this.index++;
    this.history.push(`${i}: ${showArgv(argv)}`);
    if (this.history.length > 2 * BATCH_MAX + HISTORY) this.history.shift();
    return i;
  }

  /** The {@link HISTORY} commands up to and including command `index`. */
  before(index: number): string[] {
    const end = this.history.findIndex((h) => h.startsWith(`${index}: `)) + 1;
    return this.history.slice(
      Math.max(0, (end || this.history.length) - HISTORY),
      end || undefined,
    );
  }

  /** Records a mismatch; true when the run must stop. */
  mismatch(index: number, argv: Arg[], a: Reply | undefined, b: Reply | undefined, why: string) {
    const m = { index, argv, a, b, why, last: this.before(index) };
    this.mismatches.push(m);
    this.o.log?.(formatMismatch(m, this.o));
    return this.mismatches.length >= (this.o.maxMismatches ?? 1);
  }

  /** Sends one command to both (not counted as generated) and reads both replies. */
  async both(...argv: Arg[]): Promise<[Reply, Reply]> {
    return await Promise.all([this.a.call(...argv), this.b.call(...argv)]);
  }
}

/** Writes the batch's bytes to one side in the pieces `cuts` makes, then reads `n` replies. */
async function sendBatch(
  conn: RespConn,
  bytes: Uint8Array,
  cuts: number[],
  yieldBetween: boolean,
  n: number,
): Promise<Array<Reply | undefined>> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= from) continue;
    await conn.write(bytes.subarray(from, cut));
    from = cut;
    if (yieldBetween && from < bytes.length) await new Promise((r) => setTimeout(r, 1));
  }
  const replies: Array<Reply | undefined> = [];
  for (let i = 0; i < n; i++) replies.push(await conn.read());
  return replies;
}

/** Runs one batch; returns true when the run must stop. */
async function runBatch(s: Sides, step: Extract<Step, { kind: "batch" }>): Promise<boolean> {
  const bytes = concatBytes(step.cmds.map(encodeCmd));
  const indices = step.cmds.map((c) => s.note(c.argv));
  const [ra, rb] = await Promise.all([
    sendBatch(s.a, bytes, step.cuts, step.yieldBetween, step.cmds.length),
    sendBatch(s.b, bytes, step.cuts, step.yieldBetween, step.cmds.length),
  ]);
  for (let i = 0; i < step.cmds.length; i++) {
    const c = step.cmds[i];
    const a = ra[i], b = rb[i];
    const why = a === undefined || b === undefined
      ? (a === b ? undefined : "one side closed the connection")
      : compareReplies(c.mode, a, b);
    if (why !== undefined && await failAndResync(s, indices[i], c.argv, a, b, why)) return true;
  }
  const last = step.cmds[step.cmds.length - 1];
  if (last.short) return await waitOutDeadline(s, last);
  return false;
}

/** Records a mismatch; unless the run stops there, flushes both sides so it can go on. */
async function failAndResync(
  s: Sides,
  index: number,
  argv: Arg[],
  a: Reply | undefined,
  b: Reply | undefined,
  why: string,
): Promise<boolean> {
  if (s.mismatch(index, argv, a, b, why)) return true;
  if (s.a.closed || s.b.closed) return true;
  await s.both("FLUSHALL");
  return false;
}

/**
 * After a short deadline: waits it out, then touches the key in its
 * database on both sides (lazy expiry), so DBSIZE and the rest agree.
 */
async function waitOutDeadline(s: Sides, c: Cmd): Promise<boolean> {
  const short = c.short!;
  await new Promise((r) => setTimeout(r, short.ms + 5));
  const [a, b] = await s.both("SELECT", String(short.db));
  const [ea, eb] = await s.both("EXISTS", short.key);
  await s.both("SELECT", String(short.db));
  const why = compareReplies("exact", a, b) ?? compareReplies("exact", ea, eb);
  if (why === undefined) return false;
  return await failAndResync(
    s,
    s.index - 1,
    ["EXISTS", short.key],
    ea,
    eb,
    `after the deadline: ${why}`,
  );
}

/** SPOP: both sides' members first, then the pop, then side B made equal to side A. */
async function runSpop(s: Sides, argv: Arg[]): Promise<boolean> {
  const index = s.note(argv);
  const key = argv[1];
  const [ma, mb] = await s.both("SMEMBERS", key);
  const setWhy = compareReplies("unordered", ma, mb);
  if (setWhy) {
    return await failAndResync(s, index, ["SMEMBERS", key], ma, mb, `before SPOP: ${setWhy}`);
  }
  const [a, b] = await s.both(...argv);
  const popped = (r: Reply) =>
    r.t === "$" && r.bulk
      ? [r.bulk]
      : r.t === "*" && r.items
      ? r.items.map((x) => (x as { bulk: Uint8Array }).bulk)
      : undefined;
  const pa = popped(a), pb = popped(b);
  if (pa === undefined || pb === undefined || a.t !== b.t) {
    const why = compareReplies("exact", a, b);
    return why !== undefined && await failAndResync(s, index, argv, a, b, why);
  }
  const members = new Set((ma.t === "*" && ma.items ? ma.items : []).map(rawText));
  const inSet = (p: Uint8Array[]) => p.every((m) => members.has(rawText(bulkReply(m))));
  const distinct = (p: Uint8Array[]) =>
    new Set(p.map((m) => rawText(bulkReply(m)))).size === p.length;
  if (pa.length !== pb.length) {
    return await failAndResync(s, index, argv, a, b, "SPOP popped different counts");
  }
  if (!inSet(pa) || !inSet(pb) || !distinct(pa) || !distinct(pb)) {
    return await failAndResync(
      s,
      index,
      argv,
      a,
      b,
      "SPOP popped a member that was not in the set",
    );
  }
  if (compareReplies("unordered", listReply(pa), listReply(pb)) !== undefined) {
    await s.b.call("SADD", key, ...pb);
    await s.b.call("SREM", key, ...pa);
  }
  return false;
}

function bulkReply(b: Uint8Array): Reply {
  const head = new TextEncoder().encode(`$${b.length}\r\n`);
  return { t: "$", bulk: b, raw: concatBytes([head, b, new TextEncoder().encode("\r\n")]) };
}

function listReply(p: Uint8Array[]): Reply {
  const items = p.map(bulkReply);
  const head = new TextEncoder().encode(`*${items.length}\r\n`);
  return { t: "*", items, raw: concatBytes([head, ...items.map((i) => i.raw)]) };
}

/** One full SCAN iteration on one side: every key returned, or the first error reply. */
async function scanAll(
  conn: RespConn,
  options: Arg[],
): Promise<{ keys: string[] } | { error: Reply }> {
  const keys = new Set<string>();
  let cursor = "0";
  for (let calls = 0; calls < SCAN_CALLS_MAX; calls++) {
    const r = await conn.call("SCAN", cursor, ...options);
    if (r.t !== "*" || !r.items || r.items.length !== 2) return { error: r };
    const [c, ks] = r.items;
    if (c.t !== "$" || !c.bulk || ks.t !== "*" || !ks.items) return { error: r };
    for (const k of ks.items) keys.add(rawText(k));
    cursor = new TextDecoder().decode(c.bulk);
    if (cursor === "0") return { keys: [...keys].sort() };
  }
  throw new Error(
    `SCAN ${showArgv(options)} on port ${conn.port} did not end in ${SCAN_CALLS_MAX} calls`,
  );
}

/** SCAN: a full iteration on each side; the unions must match. */
async function runScan(s: Sides, options: Arg[]): Promise<boolean> {
  const argv = ["SCAN", "0", ...options];
  const index = s.note(argv);
  const [a, b] = await Promise.all([scanAll(s.a, options), scanAll(s.b, options)]);
  if ("error" in a || "error" in b) {
    const ra = "error" in a ? a.error : undefined, rb = "error" in b ? b.error : undefined;
    const why = ra && rb
      ? compareReplies("exact", ra, rb)
      : "only one side answered SCAN with an error";
    return why !== undefined && await failAndResync(s, index, argv, ra, rb, why);
  }
  if (a.keys.join("\n") === b.keys.join("\n")) return false;
  const show = (k: string[]): Reply => ({
    t: "+",
    text: "",
    raw: new TextEncoder().encode(k.join(" ")),
  });
  return await failAndResync(
    s,
    index,
    argv,
    show(a.keys),
    show(b.keys),
    "the SCAN iterations returned different keys",
  );
}

/** QUIT: +OK and the connection closed on both sides; then new connections. */
async function runQuit(s: Sides): Promise<boolean> {
  const index = s.note(["QUIT"]);
  const [a, b] = await s.both("QUIT");
  const [ca, cb] = await Promise.all([s.a.closesWithin(5_000), s.b.closesWithin(5_000)]);
  const why = compareReplies("exact", a, b) ??
    (ca && cb ? undefined : `after QUIT the connection stayed open on ${ca ? "B" : "A"}`);
  s.close();
  await s.connect();
  return why !== undefined && await failAndResync(s, index, ["QUIT"], a, b, why);
}

/** Reads back every key of every database used, on both sides: type, value and deadline. */
async function compareState(s: Sides): Promise<boolean> {
  for (let db = 0; db < DBS_USED; db++) {
    await s.both("SELECT", String(db));
    for (let k = 0; k < KEYS; k++) {
      const key = `k${k}`;
      const [ta, tb] = await s.both("TYPE", key);
      const reads: Array<[Mode, Arg[]]> = [["exact", ["TYPE", key]], ["ttl-ms", ["PTTL", key]]];
      const type = ta.t === "+" ? ta.text : "";
      if (type === "string") reads.push(["exact", ["GET", key]]);
      if (type === "list") reads.push(["exact", ["LRANGE", key, "0", "-1"]]);
      if (type === "hash") reads.push(["pairs", ["HGETALL", key]]);
      if (type === "set") reads.push(["unordered", ["SMEMBERS", key]]);
      if (type === "zset") reads.push(["exact", ["ZRANGE", key, "0", "-1", "WITHSCORES"]]);
      for (const [mode, argv] of reads) {
        const [a, b] = argv[0] === "TYPE" ? [ta, tb] : await s.both(...argv);
        const why = compareReplies(mode, a, b);
        if (why !== undefined) {
          return s.mismatch(s.index, argv, a, b, `at the end, in db ${db}: ${why}`);
        }
      }
    }
  }
  return false;
}

/**
 * Runs `o.commands` generated commands against both sides; resolves with
 * what it did and every mismatch (also printed through `o.log`).
 */
export async function runDiff(o: DiffOptions): Promise<DiffResult> {
  const gen = new KvGenerator(o.seed, Date.now());
  const s = new Sides(o);
  const r: DiffResult = {
    seed: o.seed,
    commands: 0,
    batches: 0,
    pipelined: 0,
    splitBatches: 0,
    expiryWaits: 0,
    mismatches: s.mismatches,
  };
  await s.connect();
  try {
    await s.both("FLUSHALL");
    let stop = false;
    let mark = { index: 0, at: performance.now() };
    while (s.index < o.commands && !stop) {
      const step = gen.next();
      try {
        stop = await runStep(s, step, r, o);
      } catch (e) {
        // No reply in time, or one that is no RESP: a mismatch at the last command sent.
        const last = s.history[s.history.length - 1] ?? "";
        s.mismatch(s.index - 1, [last], undefined, undefined, (e as Error).message);
        stop = true;
      }
      if (s.index - mark.index >= 1000) {
        const now = performance.now();
        const rate = ((s.index - mark.index) / (now - mark.at)) * 1000;
        o.onStep?.(s.index, { "rate (commands/s)": rate });
        mark = { index: s.index, at: now };
      } else o.onStep?.(s.index);
    }
    if (!stop) await compareState(s);
  } finally {
    s.close();
  }
  r.commands = s.index;
  return r;
}

/** Runs one generated step; returns true when the run must stop. */
async function runStep(s: Sides, step: Step, r: DiffResult, o: DiffOptions): Promise<boolean> {
  if (step.kind === "batch") {
    step.cmds = step.cmds.filter((c) => !o.skip?.has(String(c.argv[0]).toUpperCase()));
    if (step.cmds.length === 0) return false;
    r.batches++;
    if (step.cmds.length > 1) r.pipelined += step.cmds.length;
    if (step.cuts.length > 0) r.splitBatches++;
    if (step.cmds[step.cmds.length - 1].short) r.expiryWaits++;
    return await runBatch(s, step);
  }
  if (o.skip?.has(step.kind.toUpperCase())) return false;
  if (step.kind === "spop") return await runSpop(s, step.argv);
  if (step.kind === "scan") return await runScan(s, step.options);
  return await runQuit(s);
}

/** What a differential run is against: the booted store, or a second redis-server (the comparator's own check). */
export type Against = "store" | "redis";

/**
 * Starts side A (a redis-server) and side B (the store on a machine with
 * `--apps kv` behind a switch, or a second redis-server), runs
 * {@link runDiff} over them, and stops both.
 */
export async function diffAgainst(
  against: Against,
  o: Omit<DiffOptions, "portA" | "portB" | "labelA" | "labelB">,
): Promise<DiffResult> {
  const redis = await RedisProcess.start();
  let b: { port: number; stop(): Promise<void> } | undefined;
  try {
    b = against === "redis" ? await RedisProcess.start() : await AppMachine.start("kv", {
      label: "kvdiff",
    });
    return await runDiff({
      ...o,
      portA: redis.port,
      portB: b.port,
      labelA: "redis",
      labelB: against === "redis" ? "redis2" : "store",
      replayFlags: [`--against ${against}`, o.replayFlags].filter(Boolean).join(" "),
    });
  } finally {
    await b?.stop();
    await redis.stop();
  }
}
