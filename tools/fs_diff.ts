/**
 * The file-system differential run: one sequence of operations
 * (tools/fs_diff_gen.ts `FsOp`) applied to two `FsApi`s (the storage
 * through tools/fs_local.ts or the booted system, and the host through
 * tools/fs_host.ts), every result compared, then the final trees.
 *
 * Map of this file:
 * - {@link applyOp}: one operation on one side, its result as one line
 *   ({@link showResult}): "ok", "ok 3", "ok 5000B #1a2b3c4d", a stat, or
 *   "err ENOENT";
 * - {@link treeOf}: a side's whole tree as sorted lines;
 * - {@link runSequence}: a sequence on both sides, the first mismatch (no
 *   difference is passed over: each one fails);
 * - {@link runSeeded}, {@link runSeededMany}, {@link runExhaustive}: many
 *   sequences, a fresh tree for each from a factory of side pairs
 *   ({@link localPair}: the storage in this process against the host;
 *   {@link hostPair}: the host against itself, the harness's own check);
 * - {@link formatMismatch}: the seed or sequence, both sides, the replay;
 * - {@link fsDiffAgainst}: the long runs of `deno task scenario fsdiff`.
 *
 * Also compared as Linux has them, not as the contract's text might be
 * read: link(2) does not follow its source's final symlink.
 *
 * Compared: every result's value, and every error by its POSIX NAME (the
 * message is each side's own); in the trees, names, kinds, sizes, contents,
 * link counts, which names are hard links of one file, symlink targets,
 * and the modes of files and directories. Not compared, on purpose:
 * - times (atime, mtime, ctime): each side's clock, at its own instants;
 * - inode numbers: each side numbers its own (which names share one is
 *   compared instead);
 * - a directory's size: the contract's is its entry count, a host file
 *   system's is bytes of its directory blocks;
 * - blocks: the host's allocation (extents, preallocation, its block size)
 *   is its own; holes show in the contents, which are compared;
 * - a symlink's mode: Linux's are always 0o777, and no call uses it;
 * - the order of readdir (none is promised): entries compare sorted.
 *
 * @module
 */

import type { OnStep } from "./run_trace.ts";
import { type FsApi, FsError, type FsStat, OpenFlag } from "../servers/fs/vfs.ts";
import { HostFsApi } from "./fs_host.ts";
import { openLocalFs } from "./fs_local.ts";
import {
  ACE_START,
  aceOps,
  FsGenerator,
  type FsOp,
  payload,
  sequences,
  showOp,
} from "./fs_diff_gen.ts";

/** Data and metadata pages of the storage for the ACE set (its files stay under 16 KiB): quick to zero. */
export const ACE_DATA_PAGES = 64;
/** A descriptor number no side hands out (a handle whose open failed maps to it). */
export const NO_FD = 1000;
/** Bytes of a result shown in full; longer ones by length and digest. */
const SHOW_BYTES_MAX = 16;

/** One side's view of a sequence: the descriptor of each handle. */
export interface SideState {
  handles: Array<number | undefined>;
}

/** A fresh side state. */
export function sideState(): SideState {
  return { handles: [] };
}

/** FNV-1a of `b`, 8 hex digits. */
export function digest(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/** Bytes as a result shows them. */
function showBytes(b: Uint8Array): string {
  if (b.length <= SHOW_BYTES_MAX) return `${b.length}B [${Array.from(b).join(",")}]`;
  return `${b.length}B #${digest(b)}`;
}

/** A stat as a result shows it: kind, size (not a directory's), links, mode (not a symlink's). */
export function showStat(s: FsStat): string {
  const size = s.kind === "dir" ? "-" : String(s.size);
  const mode = s.kind === "symlink" ? "-" : `0o${s.mode.toString(8)}`;
  return `${s.kind} size=${size} nlink=${s.nlink} mode=${mode}`;
}

/** A value an operation returned, as one line. */
export function showResult(v: unknown): string {
  if (v === undefined) return "ok";
  if (typeof v === "number") return `ok ${v}`;
  if (typeof v === "string") return `ok ${JSON.stringify(v)}`;
  if (v instanceof Uint8Array) return `ok ${showBytes(v)}`;
  if (Array.isArray(v)) {
    const names = v.map((e: { name: string; kind: string }) => `${e.name}:${e.kind}`).sort();
    return `ok [${names.join(" ")}]`;
  }
  if (typeof v === "object" && v !== null && "kind" in v) return `ok ${showStat(v as FsStat)}`;
  return `ok ${JSON.stringify(v)}`;
}

/** A thrown error as one line: an FsError by its name, anything else in full (a mismatch). */
export function showError(e: unknown): string {
  const fe = FsError.from(e);
  if (fe) return `err ${fe.errnoName}`;
  return `throw ${(e as Error)?.name}: ${(e as Error)?.message ?? String(e)}`;
}

/** The descriptor of handle `h` on a side. */
function fdOf(s: SideState, h: number): number {
  return s.handles[h] ?? NO_FD;
}

/** Calls the operation on `api`; its value (undefined for none). */
async function call(api: FsApi, s: SideState, o: FsOp): Promise<unknown> {
  switch (o.op) {
    case "open":
      return await api.open(o.path, o.flags, o.mode);
    case "close":
      return await api.close(fdOf(s, o.h));
    case "read":
      return await api.read(fdOf(s, o.h), o.length);
    case "write":
      return await api.write(fdOf(s, o.h), payload(o.length, o.tag));
    case "pread":
      return await api.pread(fdOf(s, o.h), o.offset, o.length);
    case "pwrite":
      return await api.pwrite(fdOf(s, o.h), o.offset, payload(o.length, o.tag));
    case "seek":
      return await api.seek(fdOf(s, o.h), o.offset, o.whence);
    case "ftruncate":
      return await api.ftruncate(fdOf(s, o.h), o.length);
    case "fstat":
      return await api.fstat(fdOf(s, o.h));
    case "fsync":
      return await api.fsync(fdOf(s, o.h));
    case "stat":
      return await api.stat(o.path);
    case "lstat":
      return await api.lstat(o.path);
    case "readlink":
      return await api.readlink(o.path);
    case "readdir":
      return await api.readdir(o.path);
    case "rmdir":
      return await api.rmdir(o.path);
    case "unlink":
      return await api.unlink(o.path);
    case "truncate":
      return await api.truncate(o.path, o.length);
    case "mkdir":
      return await api.mkdir(o.path, o.mode);
    case "rename":
      return await api.rename(o.from, o.to);
    case "link":
      return await api.link(o.from, o.to);
    case "symlink":
      return await api.symlink(o.target, o.path);
    case "chmod":
      return await api.chmod(o.path, o.mode);
    case "utimes":
      return await api.utimes(o.path, o.atimeMs, o.mtimeMs);
    case "put": {
      const fd = await api.open(o.path, o.flags, 0o644);
      try {
        return await api.pwrite(fd, o.offset, payload(o.length, o.tag));
      } finally {
        await api.close(fd);
      }
    }
    case "sync":
      return await api.sync();
  }
}

/**
 * Applies one operation on one side and returns its result as one line
 * ({@link showResult}, {@link showError}); an open's descriptor becomes
 * the side's next handle (undefined when the open failed).
 */
export async function applyOp(api: FsApi, s: SideState, o: FsOp): Promise<string> {
  let line: string;
  let value: unknown;
  try {
    value = await call(api, s, o);
    line = showResult(value);
  } catch (e) {
    line = showError(e);
  }
  if (o.op === "open") s.handles.push(typeof value === "number" ? value : undefined);
  return line;
}

/** A file's whole contents through a fresh read-only descriptor. */
async function contents(api: FsApi, path: string, size: number): Promise<string> {
  const fd = await api.open(path, OpenFlag.RDONLY | OpenFlag.NOFOLLOW);
  try {
    const parts: Uint8Array[] = [];
    let got = 0;
    while (true) {
      const b = await api.read(fd, 1 << 16);
      if (b.length === 0) break;
      parts.push(b);
      got += b.length;
    }
    const all = new Uint8Array(got);
    let at = 0;
    for (const p of parts) all.set(p, (at += p.length) - p.length);
    return got === size ? showBytes(all) : `${showBytes(all)} (read ${got} of size ${size})`;
  } finally {
    await api.close(fd);
  }
}

/**
 * The whole tree of a side as sorted lines, one per name: its kind, links,
 * mode, and a file's size and contents, a symlink's target; names that are
 * hard links of one file say so ("= /first/name"). A call that fails while
 * reading it shows as the line of that path.
 */
export async function treeOf(api: FsApi): Promise<string[]> {
  const lines: string[] = [];
  const firstName = new Map<number, string>();
  const walk = async (dir: string) => {
    let entries;
    try {
      entries = await api.readdir(dir);
    } catch (e) {
      lines.push(`${dir} readdir ${showError(e)}`);
      return;
    }
    for (const e of [...entries].sort((x, y) => x.name < y.name ? -1 : 1)) {
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      try {
        const s = await api.lstat(path);
        let line = `${path} ${s.kind} nlink=${s.nlink}`;
        if (s.kind === "symlink") line += ` -> ${JSON.stringify(await api.readlink(path))}`;
        else line += ` mode=0o${s.mode.toString(8)}`;
        if (s.kind === "file") {
          const first = firstName.get(s.ino);
          if (first !== undefined) line += ` = ${first}`;
          else {
            if (s.nlink > 1) firstName.set(s.ino, path);
            line += ` size=${s.size} ${await contents(api, path, s.size)}`;
          }
        }
        if (e.kind !== s.kind) line += ` (readdir said ${e.kind})`;
        lines.push(line);
        if (s.kind === "dir") await walk(path);
      } catch (err) {
        lines.push(`${path} ${showError(err)}`);
      }
    }
  };
  const root = await api.stat("/").then(showStat, showError);
  lines.push(`/ ${root.replace(/^dir size=- /, "dir ")}`);
  await walk("/");
  return lines;
}

/** A disagreement between the sides. */
export interface Mismatch {
  /** Index of the operation in the sequence; -1 for the final trees. */
  index: number;
  /** The whole sequence (setup included). */
  ops: FsOp[];
  a: string;
  b: string;
  /** What the sides said before (results), or the differing tree lines. */
  why: string;
}

/** Two sides' results of one sequence: the first mismatch, or undefined. */
export async function runSequence(
  a: FsApi,
  b: FsApi,
  ops: FsOp[],
): Promise<Mismatch | undefined> {
  const sa = sideState(), sb = sideState();
  for (let i = 0; i < ops.length; i++) {
    const [ra, rb] = [await applyOp(a, sa, ops[i]), await applyOp(b, sb, ops[i])];
    if (ra !== rb) return { index: i, ops, a: ra, b: rb, why: "the results differ" };
  }
  const [ta, tb] = [await treeOf(a), await treeOf(b)];
  const onlyA = ta.filter((l) => !tb.includes(l)), onlyB = tb.filter((l) => !ta.includes(l));
  if (onlyA.length === 0 && onlyB.length === 0) return undefined;
  return {
    index: -1,
    ops,
    a: onlyA.join("\n      ") || "(nothing more)",
    b: onlyB.join("\n      ") || "(nothing more)",
    why: "the final trees differ",
  };
}

/** Where a run's sequence came from, for the mismatch's replay line. */
export type Origin = { seed: number; ops: number } | { exhaustive: number; index: number };

/** A mismatch as the run prints it: where it came from, the sequence, both sides. */
export function formatMismatch(
  m: Mismatch,
  origin: Origin,
  labels: [string, string] = ["A", "B"],
  replayFlags = "",
): string {
  const head = "seed" in origin
    ? `mismatch: seed ${origin.seed}`
    : `mismatch: exhaustive length ${origin.exhaustive}, sequence ${origin.index}`;
  const at = m.index < 0 ? "the final trees" : `operation ${m.index}: ${showOp(m.ops[m.index])}`;
  const from = Math.max(0, (m.index < 0 ? m.ops.length : m.index + 1) - 20);
  return [
    `${head}, ${at}: ${m.why}`,
    `  ${labels[0]}: ${m.a}`,
    `  ${labels[1]}: ${m.b}`,
    `  the operations${from > 0 ? ` from ${from}` : ""}:`,
    ...m.ops.slice(from, m.index < 0 ? undefined : m.index + 1).map((o, i) =>
      `    ${from + i}: ${showOp(o)}`
    ),
    ...("seed" in origin
      ? [
        `  replay: deno task scenario fsdiff --seed ${origin.seed} --ops ${origin.ops}${replayFlags}`,
      ]
      : []),
  ].join("\n");
}

/** Two sides on fresh trees, and how to let them go. */
export interface SidePair {
  a: FsApi;
  b: FsApi;
  /** Frees both (or makes them fresh for the next sequence). */
  done(): void | Promise<void>;
}

/** What a run found. */
export interface DiffRun {
  sequences: number;
  operations: number;
  mismatches: Array<{ m: Mismatch; origin: Origin }>;
}

/** Options of the runs. */
export interface RunOptions {
  /** Stop after this many mismatches (default 1). */
  maxMismatches?: number;
  log?: (s: string) => void;
  labels?: [string, string];
  replayFlags?: string;
  /** After each seeded sequence: operations done, the sequence's rate. */
  onStep?: OnStep;
}

function record(run: DiffRun, m: Mismatch | undefined, origin: Origin, o: RunOptions): boolean {
  if (!m) return false;
  run.mismatches.push({ m, origin });
  o.log?.(formatMismatch(m, origin, o.labels, o.replayFlags ?? ""));
  return run.mismatches.length >= (o.maxMismatches ?? 1);
}

/** The operations of seed `seed`: `ops` of them, from {@link FsGenerator} (`pathOnly`: no descriptors). */
export function seededOps(seed: number, ops: number, pathOnly = false): FsOp[] {
  const g = new FsGenerator(seed, pathOnly);
  return Array.from({ length: ops }, () => g.next());
}

/** One seeded sequence of `ops` operations on a fresh pair. */
export async function runSeeded(
  pair: () => SidePair | Promise<SidePair>,
  seed: number,
  ops: number,
  o: RunOptions = {},
): Promise<DiffRun> {
  const run: DiffRun = { sequences: 1, operations: ops, mismatches: [] };
  const p = await pair();
  try {
    const m = await runSequence(p.a, p.b, seededOps(seed, ops));
    record(run, m, { seed, ops }, o);
  } finally {
    await p.done();
  }
  return run;
}

/**
 * Every sequence of `length` operations of `set` (default the ACE set),
 * each after {@link ACE_START} on a fresh pair; `limit` bounds how many.
 */
export async function runExhaustive(
  pair: () => SidePair | Promise<SidePair>,
  length: number,
  o: RunOptions & { set?: FsOp[]; limit?: number } = {},
): Promise<DiffRun> {
  const run: DiffRun = { sequences: 0, operations: 0, mismatches: [] };
  for (const seq of sequences(o.set ?? aceOps(), length)) {
    if (o.limit !== undefined && run.sequences >= o.limit) break;
    const p = await pair();
    try {
      const m = await runSequence(p.a, p.b, [...ACE_START, ...seq]);
      if (record(run, m, { exhaustive: length, index: run.sequences }, o)) break;
    } finally {
      await p.done();
    }
    run.sequences++;
    run.operations += seq.length;
  }
  return run;
}

/**
 * Seeded sequences of `length` operations, seeds `seed`, `seed + 1`, …,
 * until `ops` operations have run (the last one shorter), each on a fresh
 * pair; the replay of a mismatch names its own seed and length.
 */
export async function runSeededMany(
  pair: () => SidePair | Promise<SidePair>,
  seed: number,
  ops: number,
  length: number,
  o: RunOptions = {},
): Promise<DiffRun> {
  const run: DiffRun = { sequences: 0, operations: 0, mismatches: [] };
  for (let s = seed; run.operations < ops; s = (s + 1) >>> 0) {
    const n = Math.min(length, ops - run.operations);
    const startedAt = performance.now();
    const one = await runSeeded(pair, s, n, {
      ...o,
      maxMismatches: 1,
      replayFlags: ` --length ${n}${o.replayFlags ?? ""}`,
    });
    run.sequences++;
    run.operations += n;
    run.mismatches.push(...one.mismatches);
    o.onStep?.(run.operations, {
      "rate (operations/s)": (n / (performance.now() - startedAt)) * 1000,
    });
    if (run.mismatches.length >= (o.maxMismatches ?? 1)) break;
  }
  return run;
}

/**
 * A host tree for the differential runs: in memory (/dev/shm, tmpfs) when
 * the host has it, so thousands of fresh trees cost no disk writes; the
 * same system calls and the same lookup as on a disk.
 */
export function diffHostFs(): HostFsApi {
  let dir: string | undefined;
  try {
    dir = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "tardigrade-fs-host-" });
  } catch {
    dir = undefined;
  }
  return new HostFsApi(dir);
}

/** Two {@link HostFsApi}s emptied after each sequence: the harness's own check. */
export function hostPair(): { pair: () => SidePair; dispose(): void } {
  const a = diffHostFs(), b = diffHostFs();
  const p: SidePair = {
    a,
    b,
    done() {
      a.reset();
      b.reset();
    },
  };
  return {
    pair: () => p,
    dispose() {
      a.dispose();
      b.dispose();
    },
  };
}

/**
 * The storage in this process (tools/fs_local.ts) against a host tree,
 * both made fresh for each sequence (the storage's memory zeroed in place).
 */
export function localPair(
  pages?: number,
  metaPages?: number,
): { pair: () => SidePair; dispose(): void } {
  const local = openLocalFs(pages, metaPages);
  const host = diffHostFs();
  let used = false;
  const pair = (): SidePair => {
    if (used) local.reset();
    used = true;
    return { a: local.api, b: host, done: () => host.reset() };
  };
  return { pair, dispose: () => host.dispose() };
}

/** What `scenario fsdiff` runs against the host. */
export type FsAgainst = "host" | "local" | "booted";
/** The sides `scenario fsdiff --against` takes (booted: tools/fs_diff_booted.ts). */
export const FS_AGAINST: readonly FsAgainst[] = ["host", "booted", "local"];

/** Options of {@link fsDiffAgainst}. */
export interface FsDiffOptions extends RunOptions {
  seed: number;
  /** Seeded operations in all. */
  ops: number;
  /** Operations of one seeded sequence. */
  length: number;
  /** Also every sequence of 1, 2 and 3 operations of the ACE set. */
  exhaustive?: boolean;
}

/** The long differential run of `deno task scenario fsdiff`: one side against the host. */
export async function fsDiffAgainst(
  against: Exclude<FsAgainst, "booted">,
  o: FsDiffOptions,
): Promise<DiffRun> {
  const sides = against === "host" ? hostPair() : localPair();
  const small = against === "host" ? sides : localPair(ACE_DATA_PAGES, ACE_DATA_PAGES);
  const labels: [string, string] = [against === "host" ? "host A" : against, "host"];
  const flags = ` --against ${against}`;
  const run: DiffRun = { sequences: 0, operations: 0, mismatches: [] };
  const add = (r: DiffRun) => {
    run.sequences += r.sequences;
    run.operations += r.operations;
    run.mismatches.push(...r.mismatches);
  };
  try {
    if (o.exhaustive) {
      for (const length of [1, 2, 3]) {
        add(
          await runExhaustive(sides.pair, length, {
            log: o.log,
            maxMismatches: o.maxMismatches,
            labels,
          }),
        );
        o.log?.(`exhaustive length ${length}: ${run.sequences} sequences so far`);
      }
    }
    add(
      await runSeededMany(sides.pair, o.seed, o.ops, o.length, {
        ...o,
        labels,
        replayFlags: flags,
      }),
    );
  } finally {
    sides.dispose();
    if (small !== sides) small.dispose();
  }
  return run;
}
