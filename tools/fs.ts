/**
 * `deno task fs --image PATH [--fresh] [COMMAND ARGS…]`: the file system
 * of an image at rest, from the host. Boots the image headless with the
 * shell app (servers/apps/shell/) and the network, sends the command (or,
 * with none, one command per line from stdin, pipelined), prints each
 * reply, and stops the machine cleanly. A reply is released only after
 * the checkpoint that made it has committed, so once the tool has it the
 * change is on the image.
 *
 * Commands are the shell's (servers/apps/shell/commands.ts USAGE) with two
 * that move host files: `put HOST_FILE PATH` and `get PATH HOST_FILE`.
 * Script lines are split as the shell splits words (quotes, backslashes).
 *
 * Exit codes ({@link FsToolExit}): 0 every command answered ok; 1 some
 * command failed (its `error NAME: …` line on stderr, with its line number
 * in a script); 2 bad usage or the machine would not start; 3 the image is
 * in use by a running machine (E_IMAGE_BUSY), checked before anything is
 * started or changed; 4 the commands were not all answered within
 * `--timeout S` seconds of the booted machine's first command (default 120, 0: no limit):
 * the machine is killed, and the image keeps what was committed.
 *
 * Map of this file: {@link FS_TOOL_USAGE}; {@link parseFsToolArgs};
 * {@link toRequest} (a command's words as the bytes the shell reads);
 * {@link runFsTool} (boot, send, read, stop).
 *
 * @module
 */

import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import { ImageFile } from "../hw/nvm_file.ts";
import { textLines } from "../hw/text_lines.ts";
import { USAGE } from "../servers/apps/shell/commands.ts";
import {
  type ParsedReply,
  ReplyReader,
  splitWords,
  UsageError,
} from "../servers/apps/shell/session.ts";
import { freePort } from "./echo_client.ts";
import { MachineProcess } from "./machine_process.ts";
import { SwitchProcess } from "./net_process.ts";

/** The tool's exit codes. */
export enum FsToolExit {
  OK = 0,
  /** A command answered `error …`. */
  FAILED = 1,
  /** Bad usage, a missing image, a machine that would not start. */
  USAGE = 2,
  /** A running machine holds the image (E_IMAGE_BUSY). */
  BUSY = 3,
  /** The commands were not all answered within `--timeout` (the machine was killed). */
  TIMEOUT = 4,
}

/** Seconds the commands may take when `--timeout` is not given. */
const DEFAULT_TIMEOUT_S = 120;

/** `deno task fs --help`. */
export const FS_TOOL_USAGE = `usage: deno task fs --image PATH [--fresh] [COMMAND ARGS...]
Boots the image headless with the shell, runs the command (with none: one
command per line from stdin), prints the replies, stops the machine cleanly.

flags:
  --image PATH   the image (required)
  --fresh        format a new image first (everything on PATH is lost)
  --image-mb N   with --fresh: the new image's size in MiB
  --fs-mb N      with --fresh: MiB of file data the file system gets
  --timeout S    seconds the commands may take once the machine runs (default
                 ${DEFAULT_TIMEOUT_S}; 0: no limit); past it the machine is killed, exit 4
  --help         this text

commands:
${
  Object.entries(USAGE).filter(([c]) => c !== "put" && c !== "get").map(([, u]) => `  ${u}`)
    .join("\n")
}
  put HOST_FILE PATH   copy a host file in
  get PATH HOST_FILE   copy a file out to the host

exit codes: 0 all ok; 1 a command failed (its error on stderr); 2 bad usage or
no machine; 3 the image is in use by a running machine (nothing was changed);
4 the commands timed out (--timeout; the machine was killed).`;

/** What the command line asks. */
export interface FsToolArgs {
  help: boolean;
  image: string;
  fresh: boolean;
  /** The command's words; empty: read commands from stdin. */
  command: string[];
  /** Machine flags for a fresh image (`--image-mb N`, `--fs-mb N`). */
  formatFlags: string[];
  /** Seconds the commands may take (`--timeout S`); 0: no limit. */
  timeoutS: number;
}

/** Parses the tool's flags (before the command); throws a {@link UsageError} on a bad one. */
export function parseFsToolArgs(argv: string[]): FsToolArgs {
  const out: FsToolArgs = {
    help: false,
    image: "",
    fresh: false,
    command: [],
    formatFlags: [],
    timeoutS: DEFAULT_TIMEOUT_S,
  };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith("--"); i++) {
    const a = argv[i];
    if (a === "--help") out.help = true;
    else if (a === "--fresh") out.fresh = true;
    else if (a === "--image" && i + 1 < argv.length) out.image = argv[++i];
    else if (a.startsWith("--image=")) out.image = a.slice("--image=".length);
    else if ((a === "--image-mb" || a === "--fs-mb") && i + 1 < argv.length) {
      if (!/^[0-9]+$/.test(argv[i + 1])) throw new UsageError(`${a} takes a number of MiB`);
      out.formatFlags.push(a, argv[++i]);
    } else if (a === "--timeout" && i + 1 < argv.length) {
      const s = Number(argv[++i]);
      if (!/^[0-9.]+$/.test(argv[i]) || !Number.isFinite(s)) {
        throw new UsageError(`--timeout takes a number of seconds (0: no limit), not ${argv[i]}`);
      }
      out.timeoutS = s;
    } else if (a === "--") {
      i++;
      break;
    } else throw new UsageError(`unknown flag ${a} (--help lists them)`);
  }
  out.command = argv.slice(i);
  if (!out.help && out.image === "") throw new UsageError("--image PATH is required");
  if (out.formatFlags.length > 0 && !out.fresh) {
    throw new UsageError(`${out.formatFlags[0]} sizes a new image: only with --fresh`);
  }
  return out;
}

/** One request the tool sends: its bytes, how to read its reply, where a `get` body goes. */
export interface ToolRequest {
  bytes: Uint8Array;
  expect: "text" | "get";
  /** Host file a `get` writes. */
  hostFile?: string;
}

const encoder = new TextEncoder();

/** A word as the shell reads it back unchanged (single-quoted when it needs to be). */
export function quoteWord(w: string): string {
  if (/^[A-Za-z0-9_./:=@%+,-]+$/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * The request for a command's words: `put HOST_FILE PATH` reads the host
 * file (its bytes follow the line), `get PATH HOST_FILE` names where the
 * body goes; anything else is passed as it is (the shell checks it).
 * Throws a {@link UsageError} for a bad put or get, before anything is sent.
 */
export function toRequest(words: string[]): ToolRequest {
  const [cmd, ...args] = words;
  if (cmd === "put") {
    if (args.length !== 2) throw new UsageError("usage: put HOST_FILE PATH");
    let data: Uint8Array;
    try {
      data = Deno.readFileSync(args[0]);
    } catch (e) {
      throw new UsageError(`put: cannot read host file ${args[0]}: ${(e as Error).message}`);
    }
    const line = encoder.encode(`put ${quoteWord(args[1])} ${data.length}\n`);
    const bytes = new Uint8Array(line.length + data.length);
    bytes.set(line);
    bytes.set(data, line.length);
    return { bytes, expect: "text" };
  }
  if (cmd === "get") {
    if (args.length !== 2) throw new UsageError("usage: get PATH HOST_FILE");
    return {
      bytes: encoder.encode(`get ${quoteWord(args[0])}\n`),
      expect: "get",
      hostFile: args[1],
    };
  }
  return { bytes: encoder.encode(words.map(quoteWord).join(" ") + "\n"), expect: "text" };
}

/** E_IMAGE_BUSY when a running machine holds `image`'s lock; nothing is changed either way. */
function checkNotBusy(image: string): void {
  let file: ImageFile;
  try {
    file = ImageFile.open(image, { create: false, fsync: false });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return; // no image yet: --fresh makes it
    throw e;
  }
  file.close();
}

/** Where the tool's output goes (the process's streams, or a test's). */
export interface FsToolIo {
  out(text: string): void;
  err(text: string): void;
  /** Script lines (with no command). */
  lines(): AsyncIterable<string>;
}

/** The process's own stdout, stderr and stdin. */
function processIo(): FsToolIo {
  return {
    out: (t) => Deno.stdout.writeSync(encoder.encode(t)),
    err: (t) => Deno.stderr.writeSync(encoder.encode(t)),
    lines: () => textLines(Deno.stdin.readable),
  };
}

/** A booted machine with the shell reachable on `port`. */
interface Booted {
  machine: MachineProcess;
  sw: SwitchProcess;
  port: number;
  dir: string;
}

/** Time the shell has to say it listens after the machine is ready. */
const SHELL_LISTEN_MS_MAX = 30_000;

/**
 * Boots `image` behind a switch of its own; resolves once the shell
 * listens. A fresh image gets the shell on a free port; a resumed machine
 * keeps the apps it was first booted with, so the port is the one its
 * shell says (its log line), and an image booted without the shell is
 * refused.
 */
async function boot(image: string, fresh: boolean, formatFlags: string[]): Promise<Booted> {
  const dir = Deno.makeTempDirSync({ prefix: "tardigrade-fs-" });
  const sw = await SwitchProcess.start(`${dir}/link`);
  const args = [
    ...(fresh ? ["--fresh", ...formatFlags] : []),
    "--apps",
    `shell?port=${freePort()}`,
    "--net-link",
    sw.linkPath,
  ];
  const machine = MachineProcess.start(image, args);
  const booted = { machine, sw, port: 0, dir };
  try {
    await machine.ready();
    const said = await machine.waitFor(
      (l) => l.t === "log" && SHELL_LISTENING.test(l.text),
      SHELL_LISTEN_MS_MAX,
    ).catch((e: Error) => {
      throw new Error(
        `no shell answered on this image (${e.message}): was it first booted without --apps shell? ` +
          `deno task fs works on images it formatted (--fresh) or booted with the shell`,
      );
    });
    booted.port = Number(SHELL_LISTENING.exec((said as { text: string }).text)![1]);
    await sw.waitFor((l) => l.t === "listening" && l.port === booted.port);
  } catch (e) {
    await stop(booted, false);
    throw e;
  }
  return booted;
}

/** The shell's log line once it listens (servers/apps/shell/app.ts runShell). */
const SHELL_LISTENING = /^shell: listening on port (\d+)/;

/** Stops the machine (cleanly: a final checkpoint, unless `clean` is false) and the switch. */
async function stop(b: Booted, clean: boolean): Promise<void> {
  if (clean) await b.machine.shutdown();
  else await b.machine.kill();
  await b.sw.stop();
  Deno.removeSync(b.dir, { recursive: true });
}

/** Prints one reply; returns false for an error. `where` names the script line. */
function show(io: FsToolIo, req: ToolRequest, r: ParsedReply, where: string): boolean {
  for (const l of r.lines) io.out(l + "\n");
  if (r.ok && req.hostFile !== undefined && r.body !== undefined) {
    Deno.writeFileSync(req.hostFile, r.body);
  }
  if (!r.ok) io.err(`${where}error ${r.errno}: ${r.message}\n`);
  return r.ok;
}

/**
 * Sends `requests` to the shell on `port` (pipelined: sending never waits
 * for replies) and shows each reply as it comes; resolves with the count
 * of failed ones.
 */
export async function exchange(
  port: number,
  requests: AsyncIterable<{ req: ToolRequest; where: string }>,
  io: FsToolIo,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const waiting: Array<{ req: ToolRequest; where: string }> = [];
  let failed = 0, sendingDone = false, wake: (() => void) | undefined;
  const reader = new ReplyReader();
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      while (waiting.length > 0) {
        const r = reader.next(waiting[0].req.expect);
        if (r === undefined) break;
        const { req, where } = waiting.shift()!;
        if (!show(io, req, r, where)) failed++;
      }
      if (waiting.length === 0 && sendingDone) return;
      if (waiting.length === 0) {
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      const n = await conn.read(buf);
      if (n === null) {
        throw new Error(`the shell closed the connection with ${waiting.length} replies owed`);
      }
      reader.push(buf.subarray(0, n));
    }
  })();
  try {
    for await (const item of requests) {
      waiting.push(item);
      wake?.();
      let at = 0;
      while (at < item.req.bytes.length) at += await conn.write(item.req.bytes.subarray(at));
    }
    sendingDone = true;
    wake?.();
    await reading;
  } finally {
    conn.close();
  }
  return failed;
}

/** The requests of a script: one per non-empty line; a bad put/get line fails alone (`bad`). */
export async function* scriptRequests(
  io: FsToolIo,
  bad: (where: string, message: string) => void,
): AsyncIterable<{ req: ToolRequest; where: string }> {
  let n = 0;
  for await (const line of io.lines()) {
    n++;
    const where = `line ${n}: `;
    try {
      const words = splitWords(line);
      if (words.length === 0 || words[0].startsWith("#")) continue;
      yield { req: toRequest(words), where };
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      bad(where, e.message);
    }
  }
}

/** Runs the tool on `argv`; resolves with its exit code. */
export async function runFsTool(argv: string[], io: FsToolIo = processIo()): Promise<number> {
  let args: FsToolArgs;
  let single: ToolRequest | undefined;
  try {
    args = parseFsToolArgs(argv);
    if (args.help) {
      io.out(FS_TOOL_USAGE + "\n");
      return FsToolExit.OK;
    }
    if (args.command.length > 0) single = toRequest(args.command);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`fs: ${e.message}\n`);
    return FsToolExit.USAGE;
  }
  try {
    checkNotBusy(args.image);
  } catch (e) {
    if (e instanceof TardigradeError && e.code === Err.E_IMAGE_BUSY) {
      io.err(`fs: ${e.message}\n`);
      return FsToolExit.BUSY;
    }
    throw e;
  }
  if (!args.fresh && !exists(args.image)) {
    io.err(`fs: no image at ${args.image}; --fresh formats a new one\n`);
    return FsToolExit.USAGE;
  }
  let booted: Booted;
  try {
    booted = await boot(args.image, args.fresh, args.formatFlags);
  } catch (e) {
    const busy = /E_IMAGE_BUSY/.test((e as Error).message);
    io.err(`fs: the machine did not start: ${(e as Error).message}\n`);
    return busy ? FsToolExit.BUSY : FsToolExit.USAGE;
  }
  let failed = 0, clean = false;
  try {
    const requests = single !== undefined
      ? (async function* () {
        yield { req: single, where: "" };
      })()
      : scriptRequests(io, (where, message) => {
        failed++;
        io.err(`${where}error EINVAL: ${message}\n`);
      });
    const answered = exchange(booted.port, requests, io);
    const outcome = await withinTimeout(answered, args.timeoutS);
    if (outcome === "timeout") {
      answered.catch(() => {}); // the killed machine's port closes under it
      io.err(
        `fs: the commands were not all answered within ${args.timeoutS} s (--timeout); ` +
          `the machine was killed, the image keeps what was committed. Give a larger ` +
          `--timeout (0: no limit), or look at why the machine hangs (deno task boot)\n`,
      );
      return FsToolExit.TIMEOUT;
    }
    failed += outcome.failed;
    clean = true;
  } finally {
    await stop(booted, clean);
  }
  return failed > 0 ? FsToolExit.FAILED : FsToolExit.OK;
}

/** `work`'s result, or "timeout" once `seconds` have passed first (0: waits for ever). */
async function withinTimeout(
  work: Promise<number>,
  seconds: number,
): Promise<{ failed: number } | "timeout"> {
  if (seconds <= 0) return { failed: await work };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), seconds * 1000);
  });
  try {
    return await Promise.race([work.then((failed) => ({ failed })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** True when `path` exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) Deno.exit(await runFsTool(Deno.args));
