/**
 * IPC benchmark: the connection rings (servers/runtime/ipc.ts) between two
 * real Workers, against postMessage between the same two Workers.
 *
 * The main thread builds what the kernel would: one connection buffer
 * (`allocatePmoBuffers(1, CONN_PAGES)`), a doorbell for each side and a
 * {@link ConnectionHandle} for each side (each names the other's doorbell;
 * the server's carries badge {@link BENCH_BADGE}), plus a MessageChannel
 * whose ports go to the two workers. The client worker (ipc_worker.ts)
 * then measures:
 *
 * - (a) `callSync` round trips with a 16-byte payload: median and p99.
 * - (b) postMessage round trips of a 16-byte Uint8Array over the
 *   MessagePort to the same server worker: median and p99.
 * - (c) one-way `send` of 16-byte messages in batches (fill the ring,
 *   `flush`), for 1 s: messages/s, counted until the server has consumed
 *   (and sequence-checked) the last one.
 *
 * Every reply is compared with its request; any mismatch, lost message or
 * exception fails the run.
 *
 * Run: `deno task bench ipc [--quick] [--json]`, or
 * `deno run --allow-read tools/bench/ipc.ts [--quick] [--json]`.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { type BenchResult, runBenchCli } from "./cli.ts";
import type { HistogramChart } from "../plot/mod.ts";
import { dist } from "./stats.ts";
import { CONN_PAGES, ConnWord, DOORBELL_BYTES, DoorbellWord } from "../../kernel/abi/layout.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import { allocatePmoBuffers } from "../../kernel/abi/pmem.ts";
import {
  BENCH_BADGE,
  type ClientResult,
  type ClientStart,
  Ctl,
  CTL_BYTES,
  Mode,
  PAYLOAD_BYTES,
  Phase,
  type ServerDone,
  type ServerReady,
  type ServerStart,
  type WorkerFailure,
} from "./ipc_worker.ts";

/** Options of {@link benchIpc}. */
export interface IpcBenchOptions {
  /** Fewer samples and a shorter throughput run (about a second in all). */
  quick: boolean;
  /** No progress line (--json). */
  quiet?: boolean;
}

/** Longest the whole run may take before it is declared hung. */
const RUN_BUDGET_MS = 120_000;

type FromWorker = ClientResult | ServerDone | ServerReady | WorkerFailure;

interface BenchWorker {
  worker: Worker;
  /** Rejects when the worker fails (an uncaught exception or a posted error); never resolves. */
  failed: Promise<never>;
  /** The next message, which must be of kind `t`; rejects if the worker fails first. */
  next(t: FromWorker["t"]): Promise<FromWorker>;
}

function startWorker(role: string): BenchWorker {
  const worker = new Worker(new URL("./ipc_worker.ts", import.meta.url), { type: "module" });
  const inbox: FromWorker[] = [];
  let wake: () => void = () => {};
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // observed through next() and the races below
  worker.onmessage = (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    if (m.t === "error") fail(new Error(`ipc bench ${m.role} worker: ${m.message}`));
    else {
      inbox.push(m);
      wake();
    }
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    fail(new Error(`ipc bench ${role} worker: ${ev.message}`));
  };
  const take = async (t: FromWorker["t"]): Promise<FromWorker> => {
    while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
    const m = inbox.shift()!;
    if (m.t !== t) throw new Error(`ipc bench ${role} worker: got "${m.t}", expected "${t}"`);
    return m;
  };
  return { worker, failed, next: (t) => Promise.race([take(t), failed]) };
}

/** Rejects after `ms`, to turn a hang into an error that says where things stood. */
function deadline(
  ms: number,
  state: () => string,
): { promise: Promise<never>; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    id = setTimeout(
      () => reject(new Error(`ipc bench: no result within ${ms} ms; ${state()}`)),
      ms,
    );
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/** The shared words, for a hang report. */
function describeState(
  ctl: Int32Array,
  ring: Int32Array,
  serverDoor: Int32Array,
  clientDoor: Int32Array,
): string {
  const w = (a: Int32Array, i: number) => Atomics.load(a, i);
  return [
    `client phase ${Phase[w(ctl, Ctl.PHASE)]}, mode ${Mode[w(ctl, Ctl.MODE)]}`,
    `server loop ${["event", "ring", "stopped"][w(ctl, Ctl.SERVER_LOOP)]}`,
    `pings answered ${w(ctl, Ctl.PINGS)}, one-way consumed ${w(ctl, Ctl.CONSUMED)}`,
    `requests head/tail ${w(ring, ConnWord.REQ_HEAD)}/${w(ring, ConnWord.REQ_TAIL)}`,
    `responses head/tail ${w(ring, ConnWord.RESP_HEAD)}/${w(ring, ConnWord.RESP_TAIL)}`,
    `server doorbell ${w(serverDoor, DoorbellWord.RING)} sleeping ${
      w(serverDoor, DoorbellWord.SLEEPING)
    }`,
    `client doorbell ${w(clientDoor, DoorbellWord.RING)} sleeping ${
      w(clientDoor, DoorbellWord.SLEEPING)
    }`,
  ].join("; ");
}

/**
 * CPU time (clock ticks) used by the whole machine and by this process, from
 * /proc; null when that cannot be read. Deno lets only --allow-all read /proc
 * directly, so this asks `cat` (when --allow-run grants it).
 */
function cpuTicks(): { machine: number; own: number; at: number } | null {
  try {
    if (Deno.permissions.querySync({ name: "run", command: "cat" }).state !== "granted") {
      return null;
    }
    const out = new Deno.Command("cat", {
      args: ["/proc/stat", `/proc/${Deno.pid}/stat`],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    if (!out.success) return null;
    const lines = new TextDecoder().decode(out.stdout).split("\n");
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    const f = lines[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const machine = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
    // After the command name (which may hold spaces): utime and stime are fields 14 and 15.
    const self = lines.find((l) => l.startsWith(`${Deno.pid} (`)) ?? "";
    const rest = self.slice(self.lastIndexOf(")") + 2).split(" ");
    const own = Number(rest[11]) + Number(rest[12]);
    if (!Number.isFinite(machine) || !Number.isFinite(own)) return null;
    return { machine, own, at: performance.now() };
  } catch {
    return null;
  }
}

/**
 * Cores' worth of CPU that other processes used between two {@link cpuTicks}
 * readings (assumes 100 ticks a second, Linux's USER_HZ), or null.
 */
function foreignCores(
  a: ReturnType<typeof cpuTicks>,
  b: ReturnType<typeof cpuTicks>,
): number | null {
  if (!a || !b || b.at <= a.at) return null;
  const seconds = (b.at - a.at) / 1000;
  return Math.max(0, (b.machine - a.machine - (b.own - a.own)) / 100 / seconds);
}

/** One connection's buffers and the two handles to it (client and server), as the kernel would make them. */
function connectionPair() {
  const ring = allocatePmoBuffers(1, CONN_PAGES);
  const serverDoorbell = new SharedArrayBuffer(DOORBELL_BYTES);
  const clientDoorbell = new SharedArrayBuffer(DOORBELL_BYTES);
  const ctl = new SharedArrayBuffer(CTL_BYTES);
  const clientHandle: ConnectionHandle = {
    connId: 1,
    ring,
    peerDoorbell: serverDoorbell,
    badge: 0,
    slot: 0,
  };
  const serverHandle: ConnectionHandle = {
    connId: 1,
    ring,
    peerDoorbell: clientDoorbell,
    badge: BENCH_BADGE,
    slot: 0,
  };
  return { ring, serverDoorbell, clientDoorbell, ctl, clientHandle, serverHandle };
}

/**
 * Runs the IPC benchmark; returns the figures (`rtt_median_us`,
 * `rtt_p99_us`, `postmessage_rtt_median_us`, `postmessage_rtt_p99_us`,
 * `ratio`, `throughput_msgs_per_s`, `samples`) and a readable report.
 */
export async function benchIpc(opts: IpcBenchOptions): Promise<BenchResult> {
  const rttSamples = opts.quick ? 20_000 : 200_000;
  const pmSamples = opts.quick ? 1_000 : 5_000;
  const throughputMs = opts.quick ? 200 : 1000;

  const { ring, serverDoorbell, clientDoorbell, ctl, clientHandle, serverHandle } =
    connectionPair();
  const channel = new MessageChannel();

  const bar = new Progress({ name: "bench ipc", total: 1, quiet: opts.quiet });
  bar.update(0, `${rttSamples} round trips, ${pmSamples} postMessage, ${throughputMs} ms batched`);
  bar.redrawEvery(1000);
  const ticksBefore = cpuTicks();
  const server = startWorker("server");
  const client = startWorker("client");
  const limit = deadline(
    RUN_BUDGET_MS,
    () =>
      describeState(
        new Int32Array(ctl),
        new Int32Array(ring.data),
        new Int32Array(serverDoorbell),
        new Int32Array(clientDoorbell),
      ),
  );
  try {
    const run = async () => {
      const serverStart: ServerStart = {
        role: "server",
        handle: serverHandle,
        doorbell: serverDoorbell,
        ctl,
        port: channel.port1,
      };
      server.worker.postMessage(serverStart, [channel.port1]);
      await server.next("ready");
      const clientStart: ClientStart = {
        role: "client",
        handle: clientHandle,
        doorbell: clientDoorbell,
        ctl,
        port: channel.port2,
        rttSamples,
        rttWarmup: opts.quick ? 5_000 : 20_000,
        pmSamples,
        pmWarmup: opts.quick ? 200 : 1_000,
        throughputMs,
      };
      client.worker.postMessage(clientStart, [channel.port2]);
      // Whichever worker fails first fails the run.
      const result = (await Promise.race([
        client.next("result"),
        server.failed,
      ])) as ClientResult;
      const done = (await Promise.race([server.next("stopped"), client.failed])) as ServerDone;
      return { result, done };
    };
    const { result, done } = await Promise.race([run(), limit.promise]);
    // The server counted every one-way message: the warm-up run's and the measured run's.
    const consumed = Atomics.load(new Int32Array(ctl), Ctl.CONSUMED);
    if (done.consumed !== consumed || consumed < result.sent) {
      throw new Error(
        `ipc bench: server consumed ${done.consumed} (published ${consumed}) one-way messages, client sent ${result.sent} measured`,
      );
    }
    return summarise(opts, result, done, foreignCores(ticksBefore, cpuTicks()));
  } finally {
    bar.end();
    limit.cancel();
    // Stop a server still spinning (after a client failure) before terminating.
    Atomics.store(new Int32Array(ctl), Ctl.MODE, Mode.STOP);
    server.worker.terminate();
    client.worker.terminate();
    channel.port1.close();
    channel.port2.close();
  }
}

function summarise(
  opts: IpcBenchOptions,
  result: ClientResult,
  done: ServerDone,
  foreign: number | null,
): BenchResult {
  const rtt = dist(result.rtt);
  const pm = dist(result.pm);
  const figures: Record<string, number> = {
    rtt_median_us: rtt.median,
    rtt_p99_us: rtt.p99,
    postmessage_rtt_median_us: pm.median,
    postmessage_rtt_p99_us: pm.p99,
    ratio: 0,
    throughput_msgs_per_s: (result.sent / result.throughputMs) * 1000,
    samples: result.rtt.length,
  };
  figures.ratio = figures.postmessage_rtt_median_us / figures.rtt_median_us;

  const us = (v: number) => `${v.toFixed(2)} µs`;
  const row = (label: string, a: string, b: string) =>
    `${label.padEnd(30)} ${a.padStart(14)} ${b.padStart(14)}`;
  const lines = [
    `ipc benchmark${opts.quick ? " (quick)" : ""}: connection rings vs postMessage, ` +
    `two workers, ${navigator.hardwareConcurrency} cores`,
    row("round trip, 16-byte payload", "rings", "postMessage"),
    row("median", us(figures.rtt_median_us), us(figures.postmessage_rtt_median_us)),
    row("p99", us(figures.rtt_p99_us), us(figures.postmessage_rtt_p99_us)),
    row("samples", String(result.rtt.length), String(result.pm.length)),
    row("ratio (postMessage / rings)", `${figures.ratio.toFixed(1)}x`, ""),
    "",
    row(
      "one-way batched send",
      `${(figures.throughput_msgs_per_s / 1e6).toFixed(2)} M msgs/s`,
      "",
    ),
    `  ${result.sent} messages of ${PAYLOAD_BYTES} bytes in ${result.throughputMs.toFixed(1)} ms ` +
    `(until the server consumed the last); the server consumed ${done.consumed} one-way ` +
    `messages in all (warm-up included), in sequence`,
    "",
    "rings: ClientConnection.callSync (spin, then sleep) against ServerConnection.serve in a",
    "  worker that spins on its doorbell when idle; postMessage: MessagePort between the same",
    "  two workers, the server posting each Uint8Array straight back from its event loop;",
    "  each postMessage hop wakes a sleeping event loop, so it includes the OS (or VM) wake-up",
    "  latency, which is lower on a busy machine; the rings spin and avoid it",
    foreign === null
      ? "other processes' CPU use during the run: unknown (needs /proc and --allow-run)"
      : `other processes used ${
        foreign.toFixed(2)
      } of ${navigator.hardwareConcurrency} cores during the run` +
        (foreign > 0.25
          ? ": WARNING, the workers did not have the cores to themselves; figures are unreliable"
          : ""),
    "goals: ratio >= 20; batched throughput >= 1,000,000 msgs/s",
    `reproduce: deno task bench ipc${opts.quick ? " --quick" : ""}`,
  ];
  const histogram: HistogramChart = {
    kind: "histogram",
    name: "rtt_histogram",
    title: "IPC round trip, 16-byte payload: connection rings beside postMessage",
    xTitle: "round trip (µs, log scale)",
    xLog: true,
    series: [
      { label: "connection rings", values: result.rtt },
      { label: "postMessage", values: result.pm },
    ],
  };
  return { figures, report: lines.join("\n"), plots: [histogram] };
}

if (import.meta.main) await runBenchCli(benchIpc);
