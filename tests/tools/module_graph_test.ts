/**
 * The command lines (tools/scenario.ts, tools/bench/mod.ts) are imported by
 * nothing under tools/: each ends in a top-level await, which deadlocks a
 * module that it imports and that imports it back.
 *
 * @module
 */

import assert from "node:assert/strict";

const TOOLS = new URL("../../tools/", import.meta.url);

/** Every .ts file under `dir`, as paths relative to tools/. */
function tsFiles(dir: URL, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) out.push(...tsFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`));
    else if (e.name.endsWith(".ts")) out.push(`${prefix}${e.name}`);
  }
  return out;
}

/** The tools/-relative paths `file` imports (static and dynamic), resolved. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(new URL(file, TOOLS));
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]);
  return specs.map((s) => new URL(s, new URL(file, TOOLS)).href.slice(TOOLS.href.length));
}

Deno.test("no module under tools/ imports the scenario or bench command line", () => {
  const clis = ["scenario.ts", "bench/mod.ts"];
  const offenders = tsFiles(TOOLS).flatMap((f) =>
    importsOf(f).filter((i) => clis.includes(i)).map((i) => `${f} imports ${i}`)
  );
  assert.deepEqual(offenders, []);
});
