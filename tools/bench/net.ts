/**
 * Network benchmark: the echo app inside Tardigrade, reached through the
 * switch by a real TCP client, against the same numbered echo served by a
 * plain Deno TCP server in this process (the baseline: no machine, no
 * switch, no checkpoints), in the same run.
 *
 * Three targets, each measured the same way by {@link EchoClient}:
 * - `plain`: the baseline;
 * - `1ms`: the machine checkpointing every millisecond (the default): a
 *   reply leaves only when the checkpoint that produced it has committed;
 * - `off`: the machine with checkpoints off (`--checkpoint-ms 0`): the same
 *   path without delayed visibility, to tell its cost from the path's.
 *
 * Figures: round trip of one short line (ping-pong), median and p99 in µs;
 * stream throughput (lines of 1,000 bytes, 64 in flight), MB/s of replies.
 *
 * Run: `deno task bench net [--quick] [--json]`.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { runBenchCli } from "./cli.ts";
import { writeAll } from "../../kernel/abi/net_link.ts";
import { dist } from "./stats.ts";
import { EchoClient } from "../echo_client.ts";
import { AppMachine } from "../app_machine.ts";
import { type LineState, numberLines } from "../../servers/apps/echo_lines.ts";

/** What one target measured. */
interface TargetFigures {
  rtt: { median: number; p99: number };
  streamMbPerS: number;
}

const LINE_BYTES = 1000;
const IN_FLIGHT = 64;

/** Ping-pong round trips and a pipelined stream against the echo on `port`. */
async function measure(port: number, pings: number, streamBytes: number): Promise<TargetFigures> {
  const ping = await EchoClient.connect("ping", port);
  for (let i = 0; i < pings; i++) {
    await ping.send(`p${i}`);
    await ping.replied(i + 1);
  }
  await ping.finish();
  const stream = await EchoClient.connect("stream", port);
  const line = "x".repeat(LINE_BYTES - 1);
  const lines = Math.ceil(streamBytes / LINE_BYTES);
  const t0 = performance.now();
  for (let i = 0; i < lines; i++) {
    if (stream.outstanding >= IN_FLIGHT) await stream.replied(stream.replies + 1);
    await stream.send(line);
  }
  await stream.replied(lines);
  const seconds = (performance.now() - t0) / 1000;
  await stream.finish();
  const problems = [...ping.violations, ...stream.violations, ping.broken, stream.broken]
    .filter((p) => p !== undefined);
  if (problems.length > 0) throw new Error(`bench net: ${problems.join("; ")}`);
  const rttUs = ping.rttMs.slice(Math.min(20, pings / 10)).map((ms) => ms * 1000);
  return { rtt: dist(rttUs), streamMbPerS: stream.bytesReceived / seconds / 1e6 };
}

/** The baseline: the same numbered echo, served by Deno in this process. */
function plainEcho(): { port: number; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        let state: LineState = { next: 1, partial: new Uint8Array(0) };
        const buf = new Uint8Array(64 * 1024);
        const reply = async (bytes: Uint8Array, eof: boolean) => {
          const r = numberLines(state, bytes, eof);
          state = { next: r.next, partial: r.partial };
          await writeAll(conn, r.replies);
        };
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            await reply(buf.subarray(0, n), false);
          }
          await reply(new Uint8Array(0), true);
        } catch { /* the client went away */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })();
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** Runs the network benchmark. */
export async function benchNet(opts: { quick: boolean; quiet?: boolean }) {
  const pings = opts.quick ? 200 : 2000;
  const streamBytes = opts.quick ? 1_000_000 : 8_000_000;
  const bar = new Progress({ name: "bench net", total: 3, quiet: opts.quiet });
  const progress = bar.stepLog();
  progress("plain Deno echo");
  const plainServer = plainEcho();
  const plain = await measure(plainServer.port, pings, streamBytes);
  plainServer.close();
  const targets: Record<string, TargetFigures> = { plain };
  for (const [name, ms] of [["1ms", 1], ["off", 0]] as const) {
    progress(`Tardigrade, checkpoints ${name === "off" ? "off" : "every 1 ms"}`);
    const server = await AppMachine.start("echo", {
      extra: ["--checkpoint-ms", String(ms)],
      label: "bench-net",
    });
    try {
      targets[name] = await measure(server.port, pings, streamBytes);
    } finally {
      await server.stop();
    }
  }
  bar.end();
  const figures: Record<string, number> = {};
  for (const [name, t] of Object.entries(targets)) {
    figures[`rtt_p50_us_${name}`] = t.rtt.median;
    figures[`rtt_p99_us_${name}`] = t.rtt.p99;
    figures[`stream_mb_per_s_${name}`] = t.streamMbPerS;
  }
  figures.rtt_ratio_1ms_vs_plain = targets["1ms"].rtt.median / plain.rtt.median;
  figures.stream_ratio_1ms_vs_plain = targets["1ms"].streamMbPerS / plain.streamMbPerS;
  figures.rtt_ratio_1ms_vs_off = targets["1ms"].rtt.median / targets.off.rtt.median;
  const row = (name: string, t: TargetFigures) =>
    `| ${name.padEnd(28)} | ${t.rtt.median.toFixed(0).padStart(8)} | ${
      t.rtt.p99.toFixed(0).padStart(8)
    } | ${t.streamMbPerS.toFixed(2).padStart(8)} |`;
  const report = [
    `network: numbered echo over TCP on 127.0.0.1 (${pings} round trips, ${
      streamBytes / 1e6
    } MB streamed in ${LINE_BYTES}-byte lines, ${IN_FLIGHT} in flight)`,
    "",
    "| target                       | rtt p50 µs | rtt p99 µs | stream MB/s |",
    "| ---------------------------- | ---------: | ---------: | ----------: |",
    row("plain Deno echo (baseline)", plain),
    row("Tardigrade, checkpoint 1 ms", targets["1ms"]),
    row("Tardigrade, checkpoints off", targets.off),
    "",
    `rtt 1 ms / plain: ${figures.rtt_ratio_1ms_vs_plain.toFixed(1)}×; ` +
    `rtt 1 ms / off: ${figures.rtt_ratio_1ms_vs_off.toFixed(1)}×; ` +
    `stream 1 ms / plain: ${figures.stream_ratio_1ms_vs_plain.toFixed(3)}`,
    "reproduce: deno task bench net [--json]",
  ].join("\n");
  return { figures, report };
}

if (import.meta.main) await runBenchCli(benchNet);
