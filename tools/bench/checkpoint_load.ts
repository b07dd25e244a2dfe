/**
 * Machines for the checkpoint benchmark (tools/bench/checkpoint.ts): a real
 * machine on a temporary image running the load program
 * tests/programs/ckload.ts, and what the sections read from it.
 *
 * - {@link runLoad}: boots ckload, waits for `ckload ready`, runs the
 *   measured part, stops the machine; the checkpoint statistics after the
 *   warm-up and ckload's console lines.
 * - {@link stop}, {@link failure}: a clean shutdown with a deadline, and the
 *   first line saying the machine cannot go on.
 *
 * @module
 */

import { APP_QUOTA_OBJECTS } from "../../servers/init/config.ts";
import type { MachineLine } from "../../hw/board.ts";
import type { CheckpointStats, CopyMethod } from "../../kernel/abi/protocol.ts";
import { MachineProcess } from "../machine_process.ts";
import { removeImage, tempImage } from "../temp_image.ts";

/** Checkpoints after `ckload ready` that are not counted. */
export const WARMUP_CHECKPOINTS = 5;

/** Progress of the checkpoint benchmark, on stderr. */
export const log = (text: string) => console.error(`checkpoint bench: ${text}`);

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock ms with sub-ms resolution: comparable with ckload's `at` in another process. */
export const wallNow = () => performance.timeOrigin + performance.now();

/** Clean shutdown, or SIGKILL after `ms`. Returns the exit code. */
export async function stop(mp: MachineProcess, ms = 15_000): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<number>((resolve) => {
    timer = setTimeout(() => mp.kill().then(() => resolve(-9)), ms);
  });
  try {
    return await Promise.race([mp.shutdown().then((s) => s.code), killed]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects at the first line saying a thread failed or the machine erred (a boot that cannot finish). */
export function failure(mp: MachineProcess): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    mp.onLine((l) => {
      if (l.t === "error") reject(new Error(`${l.code}: ${l.text}`));
      else if (l.t === "log" && /^kernel: thread \d+ \(.*\) failed/.test(l.text)) {
        reject(new Error(l.text.replace(/^kernel: /, "")));
      }
    });
  });
  p.catch(() => {});
  return p;
}

/** One machine running ckload: the stats after ckload is ready, and its console lines. */
export interface LoadRun {
  stats: CheckpointStats[];
  /** ckload's console lines after `ckload ready`, each with the epoch whose commit released it. */
  consoleLines: Array<{ text: string; epoch: number }>;
  /** Checkpoints committed during the measured window (including warm-up). */
  committed: number;
  exitCode: number;
}

/** How {@link runLoad} runs ckload. */
export interface LoadOptions {
  /** ckload's query parameters (pages, objects, touch, mode, region, reportMs, …). */
  app: Record<string, string | number>;
  checkpointMs: number;
  method: CopyMethod;
  durationMs: number;
  extraArgs?: string[];
  /** Emit every checkpoint's statistics (default); off, the bench reads no line per checkpoint. */
  reportCheckpoints?: boolean;
  /** Runs the measured part instead of waiting `durationMs`. */
  drive?: (mp: MachineProcess) => Promise<void>;
}

/** The machine's flags for `opts`: a fresh 64 MiB image, ckload as the one app. */
function loadArgs(opts: LoadOptions): string[] {
  const query = new URLSearchParams(
    Object.entries({
      timerMs: 1,
      // ckload's endpoints are two kernel records each; leave room for its other objects.
      quotaObjects: Number(opts.app.objects ?? 0) + APP_QUOTA_OBJECTS,
      ...opts.app,
    }).map(([k, v]) => [k, String(v)]),
  ).toString();
  return [
    "--fresh",
    "--image-mb",
    "64",
    "--checkpoint-ms",
    String(opts.checkpointMs),
    "--copy-method",
    opts.method,
    ...(opts.reportCheckpoints === false ? [] : ["--report-checkpoints"]),
    "--apps",
    `tests/programs/ckload.ts?${query}`,
    ...(opts.extraArgs ?? []),
  ];
}

/** Rejects, with the machine's errors and stderr, when the machine exits. */
function exitedEarly(mp: MachineProcess): Promise<never> {
  const exited = mp.exited.then(async (s): Promise<never> => {
    throw new Error(
      `machine exited (code ${s.code}) before the end of the run\n${mp.describeErrors()}${
        (await mp.stderr()).slice(-1500)
      }`,
    );
  });
  exited.catch(() => {});
  return exited;
}

/** Resolves when `ready` does; rejects if `failed` does first or after 60 s. */
async function within60s(ready: Promise<void>, failed: Promise<never>[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no `ckload ready` within 60 s")), 60_000);
  });
  try {
    await Promise.race([ready, timeout, ...failed]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Boots a machine running ckload on a temporary image (removed afterwards),
 * waits for `ckload ready`, runs `opts.drive` (or waits `durationMs`), then
 * shuts the machine down. Throws if the machine fails or exits first.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadRun> {
  const image = tempImage("ckbench");
  const mp = MachineProcess.start(image, loadArgs(opts));
  const stats: CheckpointStats[] = [];
  const consoleLines: LoadRun["consoleLines"] = [];
  let ready = false;
  let measuring = true;
  let committed = 0;
  let readyResolve: () => void = () => {};
  const readySeen = new Promise<void>((r) => (readyResolve = r));
  mp.onLine((l: MachineLine) => {
    if (l.t === "console") {
      for (const text of l.text.split("\n")) {
        if (text === "") continue;
        // Until the exit: the last lines are released by the final checkpoint.
        if (ready) consoleLines.push({ text, epoch: l.epoch });
        if (text === "ckload ready") {
          ready = true;
          readyResolve();
        }
      }
    } else if (l.t === "checkpoints" && ready && measuring) {
      // Cuts that found nothing new wrote and committed nothing: not checkpoints of this load.
      for (const s of l.stats) if (!s.unchanged && ++committed > WARMUP_CHECKPOINTS) stats.push(s);
    }
  });
  try {
    const exited = exitedEarly(mp);
    const fail = failure(mp);
    await within60s(readySeen, [exited, fail]);
    await Promise.race([opts.drive ? opts.drive(mp) : sleep(opts.durationMs), exited, fail]);
    measuring = false;
    const exitCode = await stop(mp);
    return { stats, consoleLines, committed, exitCode };
  } catch (e) {
    await mp.kill();
    throw e;
  } finally {
    removeImage(image);
  }
}
