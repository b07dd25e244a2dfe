/**
 * The file-system differential test on the booted system: a machine runs
 * tests/programs/fs_diff.ts, which regenerates the seeded operations from
 * its args and runs them on the FS server through `FsClient`, printing one
 * line per result and then its tree; {@link diffBooted} runs the same
 * operations on a {@link HostFsApi} and compares with the lines the
 * console showed (tools/fs_diff.ts compares, and prints a mismatch).
 *
 * @module
 */

import { ConsoleView, MachineProcess } from "./machine_process.ts";
import { removeImage, tempImage } from "./temp_image.ts";
import { applyOp, type DiffRun, formatMismatch, seededOps, sideState, treeOf } from "./fs_diff.ts";
import { HostFsApi } from "./fs_host.ts";

/** The program's name on the console. */
const PROGRAM = "fs_diff";
/** Time one operation may take in the machine, for the run's timeout (a loaded 2-core host). */
const OP_MS_MAX = 200;

/** Options of {@link diffBooted}. */
export interface BootedDiffOptions {
  seed: number;
  ops: number;
  /** Operations per timer tick of the program (default 10). */
  batch?: number;
  /** More machine flags. */
  extra?: string[];
  log?: (s: string) => void;
}

/** What the program printed: its results by index, its tree, and an error if it failed. */
interface ProgramOutput {
  results: string[];
  tree: string[];
  error?: string;
}

/** Boots a fresh machine running the program; resolves with its lines once it is done. */
async function runProgramOnMachine(o: BootedDiffOptions): Promise<ProgramOutput> {
  const image = tempImage("fsdiff");
  const query = new URLSearchParams({
    seed: String(o.seed),
    ops: String(o.ops),
    batch: String(o.batch ?? 10),
    timerMs: "1",
  });
  const m = MachineProcess.start(image, [
    "--fresh",
    "--apps",
    `tests/programs/fs_diff.ts?${query}`,
    ...(o.extra ?? []),
  ]);
  const view = new ConsoleView();
  const out: ProgramOutput = { results: [], tree: [] };
  let partial = "";
  let finished = false;
  m.onLine((l) => {
    if (l.t !== "console" || l.name !== PROGRAM) return;
    const text = partial + view.accept(l);
    const lines = text.split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      let g = /^fsdiff r (\d+) (.*)$/.exec(line);
      if (g) out.results[Number(g[1])] = g[2];
      else if ((g = /^fsdiff tree (.*)$/.exec(line))) out.tree.push(g[1]);
      else if (/^fsdiff done /.test(line)) finished = true;
      else if ((g = /^fsdiff error (.*)$/.exec(line))) {
        out.error = g[1];
        finished = true;
      }
    }
  });
  try {
    await m.ready();
    await m.waitFor(() => finished, 30_000 + o.ops * OP_MS_MAX);
  } finally {
    await m.shutdown();
    removeImage(image);
  }
  return out;
}

/**
 * The seeded operations of `o.seed` on the booted system and on the host:
 * every result (values, error names) and the final trees compared.
 */
export async function diffBooted(o: BootedDiffOptions): Promise<DiffRun> {
  const ops = seededOps(o.seed, o.ops);
  const run: DiffRun = { sequences: 1, operations: o.ops, mismatches: [] };
  const out = await runProgramOnMachine(o);
  o.log?.(`booted: ${out.results.length} results, ${out.tree.length} tree lines`);
  const origin = { seed: o.seed, ops: o.ops };
  const found = (index: number, a: string, b: string, why: string) => {
    const m = { index, ops, a, b, why };
    run.mismatches.push({ m, origin });
    o.log?.(formatMismatch(m, origin, ["booted", "host"], " --against booted"));
  };
  if (out.error !== undefined) {
    found(Math.max(0, out.results.length - 1), out.error, "", "the program failed");
  }
  const host = new HostFsApi();
  try {
    const side = sideState();
    for (let i = 0; i < ops.length; i++) {
      const want = await applyOp(host, side, ops[i]);
      const got = out.results[i] ?? "(no line)";
      if (got === want) continue;
      found(i, got, want, "the results differ");
      return run;
    }
    const want = await treeOf(host);
    const onlyA = out.tree.filter((l) => !want.includes(l));
    const onlyB = want.filter((l) => !out.tree.includes(l));
    if (onlyA.length > 0 || onlyB.length > 0) {
      found(
        -1,
        onlyA.join("\n      ") || "(nothing more)",
        onlyB.join("\n      ") || "(nothing more)",
        "the final trees differ",
      );
    }
  } finally {
    host.dispose();
  }
  return run;
}
