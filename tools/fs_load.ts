/**
 * The file-system crash load's two halves: what the load program
 * (tests/programs/fsload.ts) prints, and the outside check of it
 * ({@link FsLoadChecker}) that `scenario crash --load fs` runs after every
 * SIGKILL and resume. {@link printTree} and {@link runLoadOp} are the
 * program's half, {@link FsLoadChecker} the observer's.
 *
 * The program runs seeded path operations ({@link loadOps}: each stands
 * alone, no descriptor outlives its step), one step each, and prints
 * - `fsload op N RESULT` when operation N (from 0) is done;
 * - `fsload synced N` when a `sync` after operation N-1 returned;
 * - after every start, the tree it finds: `fsload tree N begin`, one
 *   `fsload tree N LINE` per line of tools/fs_diff.ts `treeOf`, and
 *   `fsload tree N end`, N being the operations it has done.
 *
 * The checker replays the operations on a {@link HostFsApi} as their lines
 * come and requires: every operation's result equals the host's (the
 * differential test on the booted system, no difference passed over);
 * operations come in order with no gap or repeat; a printed tree is the
 * host's after exactly the operations the console showed (so the tree at
 * resume is the committed state, no more, no less); and no tree holds
 * fewer operations than a printed `synced` covered.
 *
 * @module
 */

import { applyOp, seededOps, type SideState, sideState, treeOf } from "./fs_diff.ts";
import { type FsOp, showOp } from "./fs_diff_gen.ts";
import type { FsApi } from "../servers/fs/vfs.ts";
import { HostFsApi } from "./fs_host.ts";

/** The prefix of every line of the load program. */
export const LOAD_PREFIX = "fsload ";

/** The load's operations of seed `seed`: `count` path operations. */
export function loadOps(seed: number, count: number): FsOp[] {
  return seededOps(seed, count, true);
}

/**
 * Checks the load program's lines as they come (feed them in console
 * order with {@link line}); {@link violations} says what went wrong.
 */
export class FsLoadChecker {
  readonly violations: string[] = [];
  /** Operations the console showed done. */
  opsSeen = 0;
  /** Highest N of a printed `synced N`. */
  synced = 0;
  /** Trees checked (one per start). */
  trees = 0;
  private readonly ops: FsOp[];
  private readonly host = new HostFsApi();
  private readonly side: SideState = sideState();
  private tree: { n: number; lines: string[] } | undefined;

  /**
   * @param seed the load's seed
   * @param count operations the program runs at most
   */
  constructor(readonly seed: number, count: number) {
    this.ops = loadOps(seed, count);
  }

  /** Frees the host tree. */
  dispose(): void {
    this.host.dispose();
  }

  /** Feeds one console line of the program (others are ignored). */
  async line(text: string): Promise<void> {
    if (!text.startsWith(LOAD_PREFIX)) return;
    const rest = text.slice(LOAD_PREFIX.length);
    let m = /^op (\d+) (.*)$/.exec(rest);
    if (m) return await this.op(Number(m[1]), m[2]);
    if ((m = /^synced (\d+)$/.exec(rest))) return this.sync(Number(m[1]));
    if ((m = /^tree (\d+) begin$/.exec(rest))) {
      this.tree = { n: Number(m[1]), lines: [] };
      return;
    }
    if ((m = /^tree (\d+) end$/.exec(rest))) return await this.treeEnd(Number(m[1]));
    if ((m = /^tree (\d+) (.*)$/.exec(rest)) && this.tree?.n === Number(m[1])) {
      this.tree.lines.push(m[2]);
      return;
    }
    if (rest.startsWith("error ")) this.violations.push(`the load program failed: ${rest}`);
  }

  private async op(n: number, result: string): Promise<void> {
    if (n !== this.opsSeen) {
      this.violations.push(`operation ${n} printed after ${this.opsSeen} operations`);
      return;
    }
    const o = this.ops[n];
    if (!o) {
      this.violations.push(`operation ${n} is past the load's ${this.ops.length}`);
      return;
    }
    const want = await applyOp(this.host, this.side, o);
    this.opsSeen++;
    if (want !== result) {
      this.violations.push(
        `seed ${this.seed}, operation ${n} (${
          showOp(o)
        }): the machine said "${result}", the host "${want}"`,
      );
    }
  }

  private sync(n: number): void {
    if (n > this.opsSeen) {
      this.violations.push(`synced ${n} printed after only ${this.opsSeen} operations`);
    }
    this.synced = Math.max(this.synced, n);
  }

  private async treeEnd(n: number): Promise<void> {
    const t = this.tree;
    this.tree = undefined;
    if (!t || t.n !== n) {
      this.violations.push(`tree ${n} ended without its beginning`);
      return;
    }
    this.trees++;
    if (n !== this.opsSeen) {
      this.violations.push(
        `the tree after a start holds ${n} operations, the console showed ${this.opsSeen}`,
      );
      return;
    }
    if (n < this.synced) {
      this.violations.push(`the tree holds ${n} operations, ${this.synced} were synced`);
    }
    const want = await treeOf(this.host);
    const missing = want.filter((l) => !t.lines.includes(l));
    const extra = t.lines.filter((l) => !want.includes(l));
    if (missing.length > 0 || extra.length > 0) {
      this.violations.push(
        `seed ${this.seed}: the tree after ${n} operations differs from the host's replay: ` +
          `the host has ${JSON.stringify(missing)}, the machine ${JSON.stringify(extra)}`,
      );
    }
  }
}

/** The program's half: prints the tree it finds after a start, having done `n` operations. */
export async function printTree(api: FsApi, n: number, print: (s: string) => void): Promise<void> {
  const lines = await treeOf(api);
  print(`${LOAD_PREFIX}tree ${n} begin`);
  for (const l of lines) print(`${LOAD_PREFIX}tree ${n} ${l}`);
  print(`${LOAD_PREFIX}tree ${n} end`);
}

/**
 * The program's half: runs operation `n` of `ops`, prints it and calls
 * `done` (where the program records it in its PMO); after every
 * `syncEvery`-th, syncs and prints `synced n+1`. `done` comes before the
 * sync: a sync waits for a checkpoint, which is cut while it waits, and
 * that checkpoint must hold the operation, its line and its record
 * together (else a resume would run the operation again).
 */
export async function runLoadOp(
  api: FsApi,
  ops: FsOp[],
  n: number,
  syncEvery: number,
  print: (s: string) => void,
  done: () => void = () => {},
): Promise<void> {
  print(`${LOAD_PREFIX}op ${n} ${await applyOp(api, sideState(), ops[n])}`);
  done();
  if ((n + 1) % syncEvery === 0) {
    await api.sync();
    print(`${LOAD_PREFIX}synced ${n + 1}`);
  }
}
