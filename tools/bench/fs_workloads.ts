/**
 * The workloads of the file-system benchmark (tools/bench/fs.ts), written
 * once against {@link FsApi} so the same code runs against Tardigrade (the
 * bench program tests/programs/fsbench.ts over `FsClient`, inside a booted
 * machine), the host (`HostFsApi`, tools/fs_host.ts) and the storage in
 * process (`LocalFsApi`, tools/fs_local.ts). It imports nothing but the
 * contract and the statistics, so a program without permissions loads it.
 *
 * Map of this file:
 * - {@link Durability}: when a run waits for durability (never, after every
 *   operation, once per batch);
 * - {@link SIZES_FULL}, {@link SIZES_QUICK}: counts and file sizes;
 * - {@link runSuite}: small files, sequential write/read, 4 KiB random
 *   pwrite/pread, metadata (mkdir, stat, rename, unlink), each a
 *   {@link Measure}, and the profile: the cheapest call (`stat("/")`) and
 *   an idle `sync()`;
 * - {@link flatCost}: per-operation cost as a directory and a file grow
 *   (issue 14 point 2).
 *
 * "Durable" is the FsApi's meaning on every side: `fsync(fd)` or `sync()`
 * has returned. On the host that is the host's fsync; on Tardigrade it is
 * the commit of the checkpoint covering the call.
 *
 * @module
 */

import { type FsApi, OpenFlag } from "../../servers/fs/vfs.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import { dist } from "./stats.ts";

/** The operations the workloads use. */
export type BenchFs = Pick<
  FsApi,
  | "open"
  | "close"
  | "write"
  | "pread"
  | "pwrite"
  | "fsync"
  | "sync"
  | "mkdir"
  | "rmdir"
  | "rename"
  | "unlink"
  | "stat"
>;

/**
 * When a run waits for durability: "none" never; "each" after every
 * operation (`fsync(fd)` for a file's data, `sync()` for a name); "batch"
 * one `sync()` per {@link Sizes.batch} operations and at the end.
 */
export type Durability = "none" | "each" | "batch";

/** Every durability, in the order the suite runs them. */
export const DURABILITIES: readonly Durability[] = ["none", "each", "batch"];

/** Counts and sizes of one run. */
export interface Sizes {
  /** Small files created (4 KiB each). */
  smallFiles: number;
  /** Operations per `sync()` under "batch". */
  batch: number;
  /** Bytes of the random-access file (written sequentially first: the sequential write). */
  randFileBytes: number;
  /** Random 4 KiB preads, and pwrites without durability. */
  randOps: number;
  /** Random 4 KiB pwrites under "each" and "batch". */
  randOpsDurable: number;
  /** Bytes of the durable sequential write (one fsync at the end). */
  seqDurableBytes: number;
  /** mkdir, rename operations (stat and unlink run over the small files). */
  metaOps: number;
}

/** The full run: the 256 MiB file. */
export const SIZES_FULL: Sizes = {
  smallFiles: 2000,
  batch: 100,
  randFileBytes: 256 << 20,
  randOps: 20_000,
  randOpsDurable: 2000,
  seqDurableBytes: 64 << 20,
  metaOps: 2000,
};

/** `--quick`: a 16 MiB file and a tenth of the counts. */
export const SIZES_QUICK: Sizes = {
  smallFiles: 200,
  batch: 50,
  randFileBytes: 16 << 20,
  randOps: 2000,
  randOpsDurable: 200,
  seqDurableBytes: 4 << 20,
  metaOps: 200,
};

/** One measured quantity: operations, the wall time of all of them, and per-operation latency. */
export interface Measure {
  ops: number;
  /** Wall time of the whole run, ms (the final sync of "batch" included). */
  ms: number;
  /** Operations per second: ops / ms × 1000. */
  perSecond: number;
  /** Per-operation latency, µs (the operation that carried a batch's sync includes it). */
  medianUs: number;
  p99Us: number;
  /** Bytes moved, for the sequential and random transfers (MB/s = bytes / ms / 1000). */
  bytes?: number;
}

/** The measures of a suite, by workload name and durability: `small_files.each`. */
export type SuiteResult = Record<string, Measure>;

/** The workloads of {@link runSuite}: name, and whether it runs under every durability. */
export const WORKLOADS = [
  ["small_files", true],
  ["seq_write", true],
  ["seq_read", false],
  ["rand_write_4k", true],
  ["rand_read_4k", false],
  ["mkdir", true],
  ["stat", false],
  ["rename", true],
  ["unlink", true],
  ["stat_root", false],
  ["sync_idle", false],
] as const;

/** Bytes of a random operation and of a small file. */
const BLOCK = 4096;
/** Bytes of one sequential write or read. */
const CHUNK = 1 << 20;
/** The {@link SuiteOptions.between} of the suite or sweep running now (one at a time). */
let currentBetween: SuiteOptions["between"];

/** How a suite runs besides its sizes. */
export interface SuiteOptions {
  /** One line per workload. */
  progress?: (s: string) => void;
  /**
   * Awaited before every operation, outside its latency but inside the
   * wall time: where the Tardigrade program ends one step and starts the
   * next (tests/programs/fsbench.ts), so checkpoints can cut between.
   */
  between?: () => Promise<void> | void;
}

/** Times `n` operations; `op(i)` does the i-th, `after(i)` its durability step. */
async function timeOps(
  n: number,
  op: (i: number) => Promise<unknown>,
  after: (i: number) => Promise<void>,
  bytesPerOp = 0,
): Promise<Measure> {
  const lat = new Float64Array(n);
  const between = currentBetween;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (between) await between();
    const s = performance.now();
    await op(i);
    await after(i);
    lat[i] = (performance.now() - s) * 1000;
  }
  const ms = performance.now() - t0;
  const d = dist(lat);
  return {
    ops: n,
    ms,
    perSecond: n / ms * 1000,
    medianUs: d.median,
    p99Us: d.p99,
    ...(bytesPerOp ? { bytes: n * bytesPerOp } : {}),
  };
}

/** The durability step after operation i: a data fsync, a name sync, or a batch sync. */
function durabilityStep(
  fs: BenchFs,
  d: Durability,
  sizes: Sizes,
  n: number,
  fd?: () => number,
): (i: number) => Promise<void> {
  if (d === "none") return () => Promise.resolve();
  if (d === "each") return fd ? () => fs.fsync(fd()) : () => fs.sync();
  return (i) => (i + 1) % sizes.batch === 0 || i === n - 1 ? fs.sync() : Promise.resolve();
}

/** A 4 KiB block of recognisable bytes. */
function block(seed: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) b[i] = (seed + i * 31) & 0xff;
  return b;
}

/**
 * Every workload under each durability of `ds` in turn ("none" first) in
 * directory `root` (made here; it must not exist): small files, sequential
 * write (and read, under "none"), random 4 KiB pwrite (and pread, under
 * "none") in a file of {@link Sizes.randFileBytes}, mkdir, stat (under
 * "none"), rename, unlink. The random-access file is the sequential write
 * of "none", kept for the durable runs (which write a smaller sequential
 * file of their own), so every random write lands on written blocks.
 * Removes everything it made. `progress` gets one line per workload.
 */
export async function runSuite(
  fs: BenchFs,
  root: string,
  ds: readonly Durability[],
  sizes: Sizes,
  opts: SuiteOptions = {},
): Promise<SuiteResult> {
  if (ds[0] !== "none") throw new Error(`runSuite: the durabilities must start with "none"`);
  const progress = opts.progress ?? (() => {});
  currentBetween = opts.between;
  const out: SuiteResult = {};
  await fs.mkdir(root, 0o755);
  const randPath = `${root}/rand`;
  const randFd = await fs.open(randPath, OpenFlag.RDWR | OpenFlag.CREAT | OpenFlag.EXCL, 0o644);
  for (const d of ds) {
    const put = (name: string, m: Measure) => {
      out[`${name}.${d}`] = m;
      progress(`${name} (${d}): ${m.perSecond.toFixed(0)}/s, median ${m.medianUs.toFixed(1)} µs`);
    };
    await runOne(fs, `${root}/${d}`, d, sizes, randFd, put);
  }
  await fs.close(randFd);
  await fs.unlink(randPath);
  await fs.rmdir(root);
  currentBetween = undefined;
  return out;
}

/** {@link runSuite} under one durability, in directory `dir`, with the random-access file open on `randFd`. */
async function runOne(
  fs: BenchFs,
  dir: string,
  d: Durability,
  sizes: Sizes,
  randFd: number,
  put: (name: string, m: Measure) => void,
): Promise<void> {
  await fs.mkdir(dir, 0o755);
  const data = block(7);
  const none = () => Promise.resolve();

  // Small files: create + write 4 KiB + close (under "each", the fsync before the close).
  put(
    "small_files",
    await timeOps(sizes.smallFiles, async (i) => {
      const fd = await fs.open(
        `${dir}/f${i}`,
        OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.EXCL,
        0o644,
      );
      await fs.write(fd, data);
      if (d === "each") await fs.fsync(fd);
      await fs.close(fd);
    }, d === "each" ? none : durabilityStep(fs, d, sizes, sizes.smallFiles)),
  );

  // Sequential write in 1 MiB writes, one fsync at the end (timed) under durability:
  // the random-access file under "none", a file of its own otherwise.
  const seqBytes = d === "none" ? sizes.randFileBytes : sizes.seqDurableBytes;
  const chunk = new Uint8Array(CHUNK).map((_, i) => (i * 7) & 0xff);
  const seqPath = `${dir}/seq`;
  const fd = d === "none"
    ? randFd
    : await fs.open(seqPath, OpenFlag.RDWR | OpenFlag.CREAT | OpenFlag.EXCL, 0o644);
  const seqChunks = Math.ceil(seqBytes / CHUNK);
  const seq = await timeOps(
    seqChunks,
    (i) => fs.write(fd, i === seqChunks - 1 ? chunk.subarray(0, seqBytes - i * CHUNK) : chunk),
    (i) => (i === seqChunks - 1 && d !== "none" ? fs.fsync(fd) : Promise.resolve()),
  );
  put("seq_write", { ...seq, bytes: seqBytes });
  if (d === "none") {
    let read = 0;
    const m = await timeOps(seqChunks, async (i) => {
      read += (await fs.pread(fd, i * CHUNK, CHUNK)).length;
    }, none);
    if (read !== seqBytes) throw new Error(`seq_read: read ${read} bytes of ${seqBytes}`);
    put("seq_read", { ...m, bytes: read });
  } else {
    await fs.close(fd);
    await fs.unlink(seqPath);
  }

  // Random 4 KiB pwrite (and pread) at block-aligned offsets, the same seeded ones on every side.
  const blocks = Math.floor(sizes.randFileBytes / BLOCK);
  const rng = new Prng(14);
  const nWrite = d === "none" ? sizes.randOps : sizes.randOpsDurable;
  const wOff = Array.from({ length: nWrite }, () => (rng.nextU32() % blocks) * BLOCK);
  put(
    "rand_write_4k",
    await timeOps(
      nWrite,
      (i) => fs.pwrite(randFd, wOff[i], data),
      durabilityStep(fs, d, sizes, nWrite, () => randFd),
      BLOCK,
    ),
  );
  if (d === "none") {
    const rOff = Array.from({ length: sizes.randOps }, () => (rng.nextU32() % blocks) * BLOCK);
    put(
      "rand_read_4k",
      await timeOps(
        sizes.randOps,
        async (i) => {
          const got = await fs.pread(randFd, rOff[i], BLOCK);
          if (got.length !== BLOCK) throw new Error(`pread at ${rOff[i]}: ${got.length} bytes`);
        },
        none,
        BLOCK,
      ),
    );
  }

  // Metadata: mkdir, stat of the small files, rename the directories, unlink the small files.
  const nMeta = sizes.metaOps;
  const nameStep = (n: number) => durabilityStep(fs, d, sizes, n);
  put("mkdir", await timeOps(nMeta, (i) => fs.mkdir(`${dir}/d${i}`, 0o755), nameStep(nMeta)));
  if (d === "none") {
    put("stat", await timeOps(sizes.smallFiles, (i) => fs.stat(`${dir}/f${i}`), none));
  }
  put(
    "rename",
    await timeOps(nMeta, (i) => fs.rename(`${dir}/d${i}`, `${dir}/r${i}`), nameStep(nMeta)),
  );
  put(
    "unlink",
    await timeOps(sizes.smallFiles, (i) => fs.unlink(`${dir}/f${i}`), nameStep(sizes.smallFiles)),
  );
  for (let i = 0; i < nMeta; i++) {
    await currentBetween?.();
    await fs.rmdir(`${dir}/r${i}`);
  }

  // The profile: the cheapest call (stat of the root: one round trip on Tardigrade), and a sync
  // with nothing new to make durable (on Tardigrade: the wait for the next checkpoint's commit).
  if (d === "none") {
    put("stat_root", await timeOps(nMeta, () => fs.stat("/"), none));
    put("sync_idle", await timeOps(sizes.randOpsDurable, () => fs.sync(), none));
  }
  await fs.rmdir(dir);
}

/** Sizes of the flat-cost sweep. */
export interface FlatSizes {
  /** Entries of the directories. */
  dirEntries: number[];
  /** Bytes of the files. */
  fileBytes: number[];
  /** Timed operations of each kind at each size. */
  probes: number;
}

/** The sizes: 1k, 10k, 100k entries; 1, 64, 512 MiB. */
export const FLAT_FULL: FlatSizes = {
  dirEntries: [1000, 10_000, 100_000],
  fileBytes: [1 << 20, 64 << 20, 512 << 20],
  probes: 2000,
};

/** `--quick`: 100 to 10k entries, 1 to 64 MiB. */
export const FLAT_QUICK: FlatSizes = {
  dirEntries: [100, 1000, 10_000],
  fileBytes: [1 << 20, 8 << 20, 64 << 20],
  probes: 300,
};

/** Per-operation median µs at each size: `create`, `stat`, `unlink` by entries; `pread`, `pwrite` by bytes. */
export interface FlatResult {
  dir: Array<{ entries: number; create: number; stat: number; unlink: number }>;
  file: Array<{ bytes: number; pread: number; pwrite: number }>;
}

/**
 * The cost of one operation as a directory or a file grows: for each size
 * fills a directory (or writes a file sequentially), then times
 * `probes` creates of new names, stats of random existing names and
 * unlinks of the new names (or random 4 KiB preads and pwrites), and
 * removes what it made. Medians in µs.
 */
export async function flatCost(
  fs: BenchFs,
  root: string,
  sizes: FlatSizes,
  opts: SuiteOptions = {},
): Promise<FlatResult> {
  const progress = opts.progress ?? (() => {});
  currentBetween = opts.between;
  const out: FlatResult = { dir: [], file: [] };
  const none = () => Promise.resolve();
  await fs.mkdir(root, 0o755);
  const rng = new Prng(2);
  for (const n of sizes.dirEntries) {
    const dir = `${root}/n${n}`;
    await fs.mkdir(dir, 0o755);
    const create = (p: string) =>
      fs.open(p, OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.EXCL, 0o644).then((fd) =>
        fs.close(fd)
      );
    for (let i = 0; i < n; i++) await create(`${dir}/e${i}`);
    const k = sizes.probes;
    const c = await timeOps(k, (i) => create(`${dir}/p${i}`), none);
    const s = await timeOps(k, () => fs.stat(`${dir}/e${rng.nextU32() % n}`), none);
    const u = await timeOps(k, (i) => fs.unlink(`${dir}/p${i}`), none);
    out.dir.push({ entries: n, create: c.medianUs, stat: s.medianUs, unlink: u.medianUs });
    progress(
      `directory of ${n}: create ${c.medianUs.toFixed(1)}, stat ${s.medianUs.toFixed(1)}, ` +
        `unlink ${u.medianUs.toFixed(1)} µs`,
    );
    for (let i = 0; i < n; i++) await fs.unlink(`${dir}/e${i}`);
    await fs.rmdir(dir);
  }
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const data = block(3);
  for (const bytes of sizes.fileBytes) {
    const path = `${root}/file${bytes}`;
    const fd = await fs.open(path, OpenFlag.RDWR | OpenFlag.CREAT | OpenFlag.EXCL, 0o644);
    for (let off = 0; off < bytes; off += CHUNK) {
      await fs.write(fd, chunk.subarray(0, Math.min(CHUNK, bytes - off)));
    }
    const blocks = Math.floor(bytes / BLOCK);
    const k = sizes.probes;
    const r = await timeOps(k, () => fs.pread(fd, (rng.nextU32() % blocks) * BLOCK, BLOCK), none);
    const w = await timeOps(
      k,
      () => fs.pwrite(fd, (rng.nextU32() % blocks) * BLOCK, data),
      none,
    );
    out.file.push({ bytes, pread: r.medianUs, pwrite: w.medianUs });
    progress(
      `file of ${bytes >> 20} MiB: pread ${r.medianUs.toFixed(1)}, pwrite ${
        w.medianUs.toFixed(1)
      } µs`,
    );
    await fs.close(fd);
    await fs.unlink(path);
  }
  await fs.rmdir(root);
  currentBetween = undefined;
  return out;
}
