/**
 * The import rule of docs/ARCHITECTURE.md ("Layout and the import rule"):
 * hw/, kernel/ and servers/ each import only from their own folder and from
 * kernel/abi/; kernel/abi/ imports only from kernel/abi/; the runtime
 * (`node:*`) is open to all. tools/ and tests/ may import anything.
 *
 * Map of this file:
 * - `codeOnly`: the source with comments and literals blanked out, so an
 *   import quoted in a doc comment or a string is not taken for one.
 * - `importsOf`: every `import … from`, `export … from`, `import "…"` and
 *   `import(…)` specifier, with its line.
 * - `breaks`: what one import does wrong, or undefined.
 * - The tests: the scanner on a sample, then the rule over the tree.
 *
 * Run: `deno test --allow-read tests/layout_test.ts`.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The folders the rule governs; each may use itself and kernel/abi/. */
const RULED = ["hw", "kernel", "servers"];
const ABI = "kernel/abi";

/** One import of a file: the specifier as written and the line it is on. */
interface Import {
  specifier: string;
  line: number;
}

/** Characters after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER = new Set([..."(,=:[!&|?{};+-*%<>~^", ""]);

/** What may stand right before a module specifier: `from`, `import`, `import(`. */
const BEFORE_SPECIFIER = /(?:\bfrom|\bimport|\bimport\s*\()\s*$/;

/**
 * `src` with every comment and every literal but a module specifier blanked
 * to spaces (newlines kept, so lines still count).
 */
function codeOnly(src: string): string {
  const out = src.split("");
  let last = ""; // last significant character of code
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "/" && src[i + 1] === "/") {
      for (; i < src.length && src[i] !== "\n"; i++) out[i] = " ";
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      for (; i < stop; i++) if (src[i] !== "\n") out[i] = " ";
      i--;
    } else if (c === '"' || c === "'" || c === "`" || (c === "/" && REGEX_AFTER.has(last))) {
      const end = skipLiteral(src, i, c);
      if (c === "/" || !BEFORE_SPECIFIER.test(src.slice(Math.max(0, i - 16), i))) {
        for (let j = i + 1; j < end; j++) if (src[j] !== "\n") out[j] = " ";
      }
      i = end;
      last = c;
    } else if (!/\s/.test(c)) {
      last = c;
    }
  }
  return out.join("");
}

/** Index of the character that closes the literal opened by `quote` at `start`. */
function skipLiteral(src: string, start: number, quote: string): number {
  let i = start + 1;
  let inClass = false; // inside [...] of a regular expression, where "/" does not close it
  for (; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") i++;
    else if (quote === "/" && c === "[") inClass = true;
    else if (quote === "/" && c === "]") inClass = false;
    else if (c === quote && !inClass) return i;
    else if (c === "\n" && quote !== "`") return i; // not a literal after all
  }
  return i;
}

const STATIC = /\b(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s*)?(["'])([^"']+)\1/g;
const DYNAMIC = /\bimport\s*\(\s*(?:(["'`])([^"'`]*)\1\s*\)|(?=[^"'`\s]))/g;

/** Every module specifier `src` imports or re-exports, in order of appearance. */
function importsOf(src: string): Import[] {
  const code = codeOnly(src);
  const lineOf = (at: number) => code.slice(0, at).split("\n").length;
  const found: Array<Import & { at: number }> = [];
  for (const m of code.matchAll(STATIC)) {
    found.push({ specifier: m[2], line: lineOf(m.index), at: m.index });
  }
  for (const m of code.matchAll(DYNAMIC)) {
    // A specifier the scanner cannot read is reported as such, not let through.
    const specifier = m[2] ?? "<computed specifier>";
    found.push({ specifier, line: lineOf(m.index), at: m.index });
  }
  return found.sort((a, b) => a.at - b.at).map(({ specifier, line }) => ({ specifier, line }));
}

/** Why `file` (relative to the root) may not import `specifier`; undefined if it may. */
function breaks(file: string, specifier: string): string | undefined {
  if (specifier.startsWith("node:")) return undefined;
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
    return "only node:* and relative imports are allowed here";
  }
  const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
  const inside = (folder: string, path: string) => path.startsWith(`${folder}/`);
  if (inside(ABI, file)) {
    return inside(ABI, target) ? undefined : `kernel/abi/ imports only kernel/abi/, not ${target}`;
  }
  const own = RULED.find((folder) => inside(folder, file))!;
  if (inside(own, target) || inside(ABI, target)) return undefined;
  return `${own}/ imports only ${own}/ and kernel/abi/, not ${target}`;
}

/** Every .ts file under `dir` (relative to the root), sorted. */
function sourcesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...sourcesUnder(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

Deno.test("layout: the scanner finds every form of import, and none inside a comment or a string", () => {
  const sample = [
    `import { a } from "./a.ts";`,
    `import type {`,
    `  B,`,
    `} from "../b.ts";`,
    `import "./side_effect.ts";`,
    `export { c } from './c.ts';`,
    `export * from "./d.ts";`,
    `// import { x } from "../commented.ts";`,
    `/** @example import { y } from "../doc.ts"; */`,
    `const re = /["']/; const s = "import('./not_code.ts')";`,
    `const e = await import("./e.ts");`,
    `const f = await import(name);`,
  ].join("\n");
  assert.deepEqual(importsOf(sample), [
    { specifier: "./a.ts", line: 1 },
    { specifier: "../b.ts", line: 2 },
    { specifier: "./side_effect.ts", line: 5 },
    { specifier: "./c.ts", line: 6 },
    { specifier: "./d.ts", line: 7 },
    { specifier: "./e.ts", line: 11 },
    { specifier: "<computed specifier>", line: 12 },
  ]);
});

Deno.test("layout: hw/, kernel/ and servers/ import only their own folder and kernel/abi/", () => {
  const broken: string[] = [];
  for (const folder of RULED) {
    let imports = 0;
    for (const file of sourcesUnder(folder)) {
      for (const { specifier, line } of importsOf(Deno.readTextFileSync(join(ROOT, file)))) {
        imports++;
        const why = breaks(file, specifier);
        if (why) broken.push(`${file}:${line} imports "${specifier}": ${why}`);
      }
    }
    assert.ok(imports > 0, `${folder}/: the scanner found no import at all; it is broken`);
  }
  assert.ok(broken.length === 0, `imports that break the rule:\n${broken.join("\n")}`);
});
