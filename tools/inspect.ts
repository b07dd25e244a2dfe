/**
 * `deno task inspect [IMAGE] [--json] [--depth N] [--limit N]`: an offline
 * report of an image at rest (default ./tardigrade.img): its superblocks
 * and checksums, the committed epoch and what a torn checkpoint left, the
 * kernel objects and the capability tree, every memory object with its
 * NVM pages, the memory server's allocators, the file-system tree and the
 * kv store's keys. It reads the image only (a shared lock, read-only file,
 * no scrub: the task has --allow-read alone) and verifies every checksum it
 * reads (tools/inspect/: image.ts, kernel.ts, memory.ts, fs.ts, kv.ts,
 * report.ts, render.ts).
 *
 * Exit codes ({@link InspectExit}): 0 the image is sound (leftovers of a
 * torn checkpoint are not damage); 1 it is damaged (each problem named with
 * where: superblock N, page P slot S, the slot headers' live check, a
 * record, a store); 2 bad usage; 3 a running machine holds the image (its
 * pages change every checkpoint, so nothing is read); 4 not an image, or
 * not readable (missing, another format version, permissions).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import { IMAGE_PATH_DEFAULT } from "../kernel/abi/limits.ts";
import { flagHelp, type FlagTable, HELP_FLAG } from "../hw/flags.ts";
import { openImage } from "./inspect/image.ts";
import { buildReport, type InspectReport, REPORT_FORMAT } from "./inspect/report.ts";
import { renderReport } from "./inspect/render.ts";

/** The inspector's exit codes. */
export enum InspectExit {
  SOUND = 0,
  DAMAGED = 1,
  USAGE = 2,
  BUSY = 3,
  /** Not a Tardigrade image, another format version, or a file that cannot be read. */
  UNREADABLE = 4,
}

/** The inspector's flags. */
export const INSPECT_FLAGS = {
  json: { type: "boolean", default: false, help: "print the report as one JSON object" },
  depth: {
    type: "string",
    default: "8",
    arg: "N",
    help: "list the file system N levels deep",
  },
  limit: {
    type: "string",
    default: "200",
    arg: "N",
    help: "lines per listing in the text report, names in the file-system listing",
  },
  ...HELP_FLAG,
} as const satisfies FlagTable;

/** `deno task inspect --help`. */
export const INSPECT_USAGE = `usage: deno task inspect [IMAGE] [--json] [--depth N] [--limit N]
An offline report of an image at rest (default ./${IMAGE_PATH_DEFAULT}); reads it only.

flags:
${flagHelp(INSPECT_FLAGS)}

exit codes: 0 sound; 1 damaged (each problem says what and where); 2 bad usage;
3 a running machine holds the image; 4 not an image, or unreadable.`;

/** Where the output goes. */
export interface InspectIo {
  out(text: string): void;
  err(text: string): void;
}

const encoder = new TextEncoder();

/** Runs the inspector on `argv`; returns its exit code. */
export function runInspect(argv: string[], io: InspectIo = processIo()): InspectExit {
  let args: { image: string; json: boolean; depth: number; limit: number };
  try {
    args = parseInspectArgs(argv);
  } catch (e) {
    io.err(`inspect: ${(e as Error).message}\n${INSPECT_USAGE}\n`);
    return InspectExit.USAGE;
  }
  if (args.image === "") {
    io.out(INSPECT_USAGE + "\n");
    return InspectExit.SOUND;
  }
  let image;
  try {
    image = openImage(args.image);
  } catch (e) {
    return refused(args.image, args.json, e, io);
  }
  let report: InspectReport;
  try {
    report = buildReport(image, { depth: args.depth, limit: args.limit });
  } finally {
    image.close();
  }
  if (args.json) {
    const { capTree: _tree, ...plain } = report;
    io.out(JSON.stringify(plain, null, 2) + "\n");
  } else io.out(renderReport(report, args.limit));
  if (report.verdict === "sound") return InspectExit.SOUND;
  io.err(
    `inspect: ${report.path} is damaged: ` +
      report.problems.map((p) => `${p.where}: ${p.what}`).join("; ") + "\n",
  );
  return InspectExit.DAMAGED;
}

/** The flags and the image path; "" for the image when --help was asked. Throws on bad usage. */
function parseInspectArgs(
  argv: string[],
): { image: string; json: boolean; depth: number; limit: number } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: INSPECT_FLAGS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { image: "", json: false, depth: 0, limit: 0 };
  if (positionals.length > 1) throw new Error(`one image at a time, not ${positionals.length}`);
  const count = (name: "depth" | "limit") => {
    const v = values[name];
    if (!/^[0-9]+$/.test(v)) throw new Error(`--${name} takes a whole number, not "${v}"`);
    return Number(v);
  };
  return {
    image: positionals[0] ?? IMAGE_PATH_DEFAULT,
    json: values.json,
    depth: count("depth"),
    limit: count("limit"),
  };
}

/** What an image that could not be opened gets: its message, its exit code, and JSON if asked. */
function refused(path: string, json: boolean, e: unknown, io: InspectIo): InspectExit {
  let code = InspectExit.UNREADABLE;
  let name = "E_UNREADABLE";
  let message: string;
  if (e instanceof TardigradeError) {
    name = Err[e.code];
    message = e.message;
    if (e.code === Err.E_IMAGE_BUSY) code = InspectExit.BUSY;
  } else if (e instanceof Deno.errors.NotFound) {
    message =
      `no file at ${path}: give the image's path (deno task boot makes ./${IMAGE_PATH_DEFAULT})`;
  } else if (e instanceof Error) {
    message = `${path} cannot be read: ${e.name}: ${e.message}`;
  } else throw e;
  if (json) {
    const verdict = code === InspectExit.BUSY ? "busy" : "unreadable";
    io.out(
      JSON.stringify({ format: REPORT_FORMAT, path, verdict, error: { name, message } }) + "\n",
    );
  }
  io.err(`inspect: ${message}\n`);
  return code;
}

function processIo(): InspectIo {
  return {
    out: (t) => Deno.stdout.writeSync(encoder.encode(t)),
    err: (t) => Deno.stderr.writeSync(encoder.encode(t)),
  };
}

if (import.meta.main) Deno.exit(runInspect(Deno.args));
