/**
 * The crash load's outside check (tools/fs_load.ts `FsLoadChecker`), fed
 * the lines a load program would print (made here by the program's own
 * half over a host tree): a tree that holds exactly the operations the
 * console showed passes; a tree that lost the last one, a result that
 * differs (another error too), or a tree with fewer operations than a
 * printed `synced` is a violation.
 *
 * Run: `deno test --allow-read --allow-write tests/tools/fs_load_test.ts`.
 */

import assert from "node:assert/strict";
import { FsLoadChecker, loadOps, printTree, runLoadOp } from "../../tools/fs_load.ts";
import { HostFsApi } from "../../tools/fs_host.ts";

const SEED = 77;
const COUNT = 120;

/** The lines of a program that ran `done` operations, then `treeAfter` of them were kept. */
async function programLines(done: number, treeAfter: number, syncEvery = 10): Promise<string[]> {
  const ops = loadOps(SEED, COUNT);
  const lines: string[] = [];
  const ran = new HostFsApi(), kept = new HostFsApi();
  try {
    for (let n = 0; n < done; n++) {
      await runLoadOp(ran, ops, n, syncEvery, (s) => lines.push(s));
      if (n < treeAfter) await runLoadOp(kept, ops, n, syncEvery, () => {});
    }
    await printTree(kept, treeAfter, (s) => lines.push(s));
  } finally {
    ran.dispose();
    kept.dispose();
  }
  return lines;
}

async function check(lines: string[]): Promise<FsLoadChecker> {
  const c = new FsLoadChecker(SEED, COUNT);
  try {
    for (const l of lines) await c.line(l);
  } finally {
    c.dispose();
  }
  return c;
}

Deno.test("FsLoadChecker: a tree holding exactly the operations shown passes, twice over", async () => {
  const first = await programLines(40, 40);
  const later = (await programLines(90, 90)).filter((l) =>
    Number(/^fsload (?:op|synced) (\d+)/.exec(l)?.[1] ?? 99) > 40 || l.startsWith("fsload op 40 ")
  );
  const c = await check([...first, ...later]);
  assert.deepEqual(c.violations, []);
  assert.equal(c.trees, 2);
  assert.equal(c.synced, 90);
});

Deno.test("FsLoadChecker: a tree that lost the last operation shown is a violation", async () => {
  const c = await check(await programLines(53, 52));
  assert.equal(c.violations.length, 1, c.violations.join("\n"));
  assert.match(c.violations[0], /holds 52 operations, the console showed 53/);
});

Deno.test("FsLoadChecker: a result unlike the host's (another error too), and a tree short of a sync, are violations", async () => {
  const lines = await programLines(30, 30);
  const i = lines.findIndex((l) => l.startsWith("fsload op 5 "));
  const want = lines[i].replace(/^fsload op 5 /, "");
  lines[i] = want.startsWith("err ") ? "fsload op 5 ok" : "fsload op 5 err EIO";
  const c = await check(lines);
  assert.match(c.violations.join("\n"), /operation 5 .*the machine said/);
  const errs = await programLines(30, 30);
  const j = errs.findIndex((l) => /^fsload op \d+ err /.test(l));
  errs[j] = errs[j].replace(/ err \w+$/, " err EIO");
  const e = await check(errs);
  assert.match(e.violations.join("\n"), /the machine said "err EIO"/);
  const short = (await programLines(30, 30)).filter((l) => !/^fsload op 2\d /.test(l));
  const d = await check([
    ...short.filter((l) => !l.includes("tree")),
    "fsload tree 20 begin",
    "fsload tree 20 end",
  ]);
  assert.match(d.violations.join("\n"), /synced 30 printed after only 20|30 were synced/);
});
