/**
 * Command-line flag tables. One table per command declares each flag once:
 * its type, default, the name of its value and a line of help. The same
 * table is the `options` of `node:util` parseArgs (which ignores the extra
 * keys) and the source of the help text, so a flag cannot be accepted
 * without being listed. The machine (hw/machine.ts), the supervisor, the
 * scenario runner and the benchmarks (tools/) all use it.
 *
 * @module
 */

/** One flag: what parseArgs needs, plus its help. */
export interface FlagSpec {
  type: "string" | "boolean";
  /** Single-letter alias (`-h`). */
  short?: string;
  default?: string | boolean;
  /** What the value is called in the help (`N`, `PATH`); string flags only. */
  arg?: string;
  /** One line: what the flag does. */
  help: string;
}

/** Flags by long name (without the leading `--`). */
export type FlagTable = Record<string, FlagSpec>;

/** The flag every command takes. */
export const HELP_FLAG = {
  help: { type: "boolean", short: "h", default: false, help: "print this help and exit" },
} as const satisfies FlagTable;

/** Every flag of `table` as it is typed: `--name`. */
export function flagNames(table: FlagTable): string[] {
  return Object.keys(table).map((name) => `--${name}`);
}

/**
 * The help text of `table`: one line per flag, `--name VALUE` padded to a
 * column, then its help and its default when it has one.
 */
export function flagHelp(table: FlagTable): string {
  const heads = Object.entries(table).map(([name, f]) =>
    `  ${f.short ? `-${f.short}, ` : ""}--${name}${
      f.type === "string" ? ` ${f.arg ?? "VALUE"}` : ""
    }`
  );
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return Object.values(table).map((f, i) => {
    const shown = f.type === "string" && f.default !== undefined && f.default !== "";
    return `${heads[i].padEnd(width)}${f.help}${shown ? ` (default ${f.default})` : ""}`;
  }).join("\n");
}
