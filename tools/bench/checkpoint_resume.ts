/**
 * Resume runs of the checkpoint benchmark (section (e) of
 * tools/bench/checkpoint.ts): how long a machine takes from start to
 * `ready` when it resumes an image, by image size, against its baselines.
 *
 * - {@link measureResume}: boot fresh, shut down (final checkpoint), boot
 *   again; the `ready` line's ms and the wall time from spawn; a fresh boot
 *   plus `Deno.readFile` of a data file of the image's size (the cold-boot
 *   baseline); the floor, starting as many empty Workers as the system has
 *   threads.
 * - {@link resumeRuns}: every image size, and the figures.
 *
 * @module
 */

import { Progress } from "../progress.ts";
import { MachineProcess } from "../machine_process.ts";
import { imageDir, removeImage, tempImage } from "../temp_image.ts";
import { failure, log, sleep, stop } from "./checkpoint_load.ts";
import { median } from "./stats.ts";

/** Threads of a system without apps: kernel, init, memory, fs, net. */
const BASE_THREADS = 5;

/** Time for this thread to start `n` empty Workers and hear "up" from each. */
async function workerFloorMs(n: number): Promise<number> {
  const url = URL.createObjectURL(
    new Blob(['postMessage("up");'], { type: "application/javascript" }),
  );
  try {
    const t0 = performance.now();
    const workers: Worker[] = [];
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(url, { type: "module" });
          workers.push(w);
          w.onmessage = () => resolve();
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
        })),
    );
    const ms = performance.now() - t0;
    for (const w of workers) w.terminate();
    return ms;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Boots a machine without apps to `ready`: the ready line's ms and the wall time from spawn. */
async function bootToReady(
  imagePath: string,
  imageMb: number,
  fresh: boolean,
): Promise<{ readyMs: number; wallMs: number; resumed: boolean; epoch: number }> {
  const args = ["--image-mb", String(imageMb), ...(fresh ? ["--fresh"] : [])];
  const t0 = performance.now();
  const mp = MachineProcess.start(imagePath, args);
  try {
    const ready = await Promise.race([mp.ready(60_000), failure(mp)]);
    const wallMs = performance.now() - t0;
    await sleep(100); // let a few checkpoints commit before the clean shutdown
    const code = await stop(mp);
    if (code !== 0) throw new Error(`machine exited with code ${code} at shutdown`);
    return { readyMs: ready.ms, wallMs, resumed: ready.resumed, epoch: ready.epoch };
  } catch (e) {
    await mp.kill();
    // The whole story goes to stderr; the table gets the first line.
    const tail = mp.lines.slice(-30).map((l) => `  ${JSON.stringify(l).slice(0, 300)}`);
    log(`${fresh ? "fresh boot" : "resume"} failed: ${(e as Error).message}\n${tail.join("\n")}`);
    log(`machine stderr: ${(await mp.stderr()).slice(-3000)}`);
    throw e;
  }
}

/** Writes `mb` MiB of non-zero data to `path`. */
async function writeDataFile(path: string, mb: number): Promise<void> {
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let i = 0; i < mb; i++) {
      let done = 0;
      while (done < chunk.length) done += await f.write(chunk.subarray(done));
    }
  } finally {
    f.close();
  }
}

/** One image size of (e); `error` instead of figures if a boot failed. */
export interface ResumeRow {
  imageMb: number;
  error?: string;
  freshReadyMs?: number;
  freshWallMs?: number;
  resumeReadyMs?: number;
  resumeWallMs?: number;
  resumeSamples?: number[];
  readFileMs?: number;
  floorMs?: number;
}

/** Measures (e) at `imageMb` MiB, with `resumes` resumes (median). */
export async function measureResume(imageMb: number, resumes: number): Promise<ResumeRow> {
  const image = tempImage("ckbench");
  const row: ResumeRow = { imageMb };
  try {
    const fresh = await bootToReady(image, imageMb, true);
    row.freshReadyMs = fresh.readyMs;
    row.freshWallMs = fresh.wallMs;
    const samples: number[] = [];
    const walls: number[] = [];
    for (let i = 0; i < resumes; i++) {
      const r = await bootToReady(image, imageMb, false);
      if (!r.resumed) throw new Error(`boot ${i + 2} did not resume (epoch ${r.epoch})`);
      samples.push(r.readyMs);
      walls.push(r.wallMs);
    }
    row.resumeSamples = samples;
    row.resumeReadyMs = median(samples);
    row.resumeWallMs = median(walls);
    // Cold-boot baseline: the fresh boot plus reading a data file of the image's size.
    const data = `${imageDir(image)}/data.bin`;
    await writeDataFile(data, imageMb);
    const t0 = performance.now();
    const bytes = await Deno.readFile(data);
    row.readFileMs = performance.now() - t0;
    if (bytes.length !== imageMb * 1024 * 1024) throw new Error("short read of the data file");
    // The floor, in the same run: as many empty workers as the system has threads.
    const floors: number[] = [];
    for (let i = 0; i < 5; i++) floors.push(await workerFloorMs(BASE_THREADS));
    row.floorMs = median(floors);
  } catch (e) {
    row.error = (e as Error).message.split("\n").slice(0, 3).join(" | ");
  } finally {
    removeImage(image);
  }
  return row;
}

/**
 * Runs (e) at each image size (16 and 64 MiB with `quick`, up to 1 GiB
 * without); adds `resume_ms_<mb>mb` and the other resume figures to `figures`.
 */
export async function resumeRuns(
  quick: boolean,
  figures: Record<string, number>,
  quiet = false,
): Promise<ResumeRow[]> {
  const resumeRows: ResumeRow[] = [];
  const sizes = quick ? [16, 64] : [16, 64, 256, 1024];
  const bar = new Progress({ name: "bench checkpoint: resume", total: sizes.length, quiet });
  const step = bar.stepLog();
  for (const mb of sizes) {
    step(`image ${mb} MiB`);
    const row = await measureResume(mb, quick ? 1 : 5);
    resumeRows.push(row);
    if (row.error === undefined) {
      figures[`resume_ms_${mb}mb`] = row.resumeReadyMs!;
      figures[`resume_wall_ms_${mb}mb`] = row.resumeWallMs!;
      figures[`resume_minus_floor_ms_${mb}mb`] = row.resumeReadyMs! - row.floorMs!;
      figures[`cold_boot_ms_${mb}mb`] = row.freshReadyMs! + row.readFileMs!;
      figures[`worker_floor_ms_${mb}mb`] = row.floorMs!;
    }
  }
  bar.end();
  const okResume = resumeRows.filter((r) => r.error === undefined);
  if (okResume.length) {
    const diffs = okResume.map((r) => r.resumeReadyMs! - r.floorMs!);
    figures.resume_minus_floor_max_ms = Math.max(...diffs);
    figures.resume_spread_ms = Math.max(...okResume.map((r) => r.resumeReadyMs!)) -
      Math.min(...okResume.map((r) => r.resumeReadyMs!));
  }
  return resumeRows;
}
