/**
 * The kernel has no import circle: every module of kernel/ can be read
 * (and built, and tested) knowing only the modules below it. Imports are
 * read from the source text (type-only imports count: a cycle of types is
 * a cycle of knowledge), followed through any relative path, also outside
 * kernel/, and every cycle through a kernel module is listed.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The relative module specifiers of a TypeScript source (imports and re-exports). */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/g;
  for (const m of source.matchAll(pattern)) if (m[1].startsWith(".")) found.push(m[1]);
  return found;
}

/** Every .ts file under `dir` (absolute paths). */
function tsFiles(dir: string): string[] {
  const files: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) files.push(...tsFiles(path));
    else if (e.name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/** The import graph reachable from `roots`: file → files it imports. */
function importGraph(roots: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const todo = [...roots];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (graph.has(file)) continue;
    const deps = importsOf(Deno.readTextFileSync(file)).map((s) => resolve(dirname(file), s));
    graph.set(file, deps);
    todo.push(...deps.filter((d) => !graph.has(d)));
  }
  return graph;
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** One shortest cycle through `from` inside `scc` (a path ending where it starts). */
export function cycleThrough(graph: Map<string, string[]>, scc: string[], from: string): string[] {
  const inside = new Set(scc);
  const cameFrom = new Map<string, string>();
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w) || cameFrom.has(w)) continue;
      cameFrom.set(w, v);
      if (w === from) {
        const back = [v]; // v ← … ← from, read back through cameFrom
        while (back[back.length - 1] !== from) back.push(cameFrom.get(back[back.length - 1])!);
        return [...back.reverse(), from];
      }
      queue.push(w);
    }
  }
  return [from];
}

Deno.test("kernel: the import parser finds static imports, type imports and re-exports", () => {
  const source = [
    `import { a } from "./a.ts";`,
    `import type { B } from "../b.ts";`,
    `import {\n  c,\n  type D,\n} from "./objects/c.ts";`,
    `export { e } from "./e.ts";`,
    `import "./side_effect.ts";`,
    `import assert from "node:assert/strict";`,
    `// a comment naming from "./not_an_import.ts" in prose`,
  ].join("\n");
  assert.deepEqual(importsOf(source), [
    "./a.ts",
    "../b.ts",
    "./objects/c.ts",
    "./e.ts",
    "./side_effect.ts",
  ]);
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assert.deepEqual(cycles(g), [["a", "b", "c"]], "a → b → c → a is found, d is outside it");
  assert.deepEqual(cycleThrough(g, ["a", "b", "c"], "a"), ["a", "b", "c", "a"]);
});

Deno.test("kernel: no module of kernel/ is part of an import cycle", () => {
  const kernel = join(ROOT, "kernel");
  const graph = importGraph(tsFiles(kernel));
  const throughKernel = cycles(graph).filter((c) => c.some((f) => f.startsWith(kernel + "/")));
  const listed = throughKernel.map((scc) =>
    cycleThrough(graph, scc, scc[0]).map((f) => relative(ROOT, f)).join(" → ") +
    ` (${scc.length} modules in the circle)`
  );
  assert.deepEqual(listed, [], `import cycles:\n${listed.join("\n")}`);
});
