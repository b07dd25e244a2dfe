/**
 * The shell's commands over the file system as a program sees it
 * (servers/fs/vfs.ts FsApi): each takes a session's state, its words and
 * a reply to fill (session.ts), and changes only the state and the tree.
 *
 * Map of this file:
 * - {@link USAGE}: every command's one-line usage (`help` prints them);
 * - {@link Shell.run}: one request line; a command too long for one step
 *   (put, get, rm -r, ls, tree) leaves a {@link Job} in the state;
 * - {@link Shell.resume}: the next bounded piece of that job;
 * - the system commands (`ps`, `caps`, … : system_commands.ts) are
 *   dispatched there, after the file commands;
 * - path, mode and time formatting, the leaves.
 *
 * Bounded steps: a {@link Budget} counts the file-system calls a step may
 * make ({@link STEP_CALLS_MAX}) and the bytes it may move
 * ({@link STEP_BYTES_MAX}); a job stops where the budget ends and goes on
 * in the next step, from what its state says (a listing keeps the names
 * it has still to show, `rm -r` walks again what is left of its tree).
 * Every piece runs inside one step of the app, so a crash rolls the tree,
 * the state and the reply back together. `sync` is the one piece that
 * waits for a checkpoint, which cuts in the middle of its step: it is a
 * job that ends the step it comes in (the app saves the input consumed,
 * the state and the replies up to it) and runs first thing in the next,
 * so that cut holds everything before it and nothing after.
 *
 * Paths are taken from the session's current directory when relative and
 * passed to the file system as they are (it resolves `.`, `..` and
 * symlinks); only `cd` keeps a normalised path, lexically as shells do.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import {
  FILE_BYTES_MAX,
  FS_BLOCK_BYTES,
  type FsApi,
  FsErrno,
  FsError,
  type FsStat,
  OpenFlag,
} from "../../fs/vfs.ts";
import {
  type Job,
  LINE_BYTES_MAX,
  type ListFrame,
  nextRequest,
  PUT_BYTES_MAX,
  type Reply,
  type ShellState,
  skipLine,
  splitWords,
  UsageError,
} from "./session.ts";
import { type MonitorApi, SYSTEM_USAGE, SystemCommands } from "./system_commands.ts";
import { KV_USAGE, type KvApi, KvCommands } from "./kv_commands.ts";

/** File-system calls one step may make for one connection (a job stops there and goes on next step). */
export const STEP_CALLS_MAX = 512;
/** File bytes one step moves for one connection (`put`, `get`). */
export const STEP_BYTES_MAX = 256 * 1024;
/** Largest file `cat` shows (`get` sends any). */
export const CAT_BYTES_MAX = 1024 * 1024;
/** Mode of files `write` and `put` create, and of directories `mkdir` makes. */
const FILE_MODE = 0o644, DIR_MODE = 0o755;

/** Every command's one-line usage, in the order `help` lists them (the system ones last). */
export const USAGE: Record<string, string> = {
  help: "help",
  pwd: "pwd",
  cd: "cd [PATH]",
  ls: "ls [-l] [PATH]",
  cat: "cat PATH",
  write: "write PATH TEXT...",
  mkdir: "mkdir [-p] PATH",
  rm: "rm [-r] PATH",
  rmdir: "rmdir PATH",
  mv: "mv FROM TO",
  ln: "ln [-s] TARGET PATH",
  stat: "stat PATH",
  tree: "tree [PATH]",
  df: "df",
  sync: "sync",
  put: "put PATH LENGTH (then LENGTH raw bytes)",
  get: "get PATH (answers LENGTH, then the raw bytes)",
  ...SYSTEM_USAGE,
  kv: KV_USAGE,
};

/** What one step may still do for one connection. */
export class Budget {
  /**
   * `wait`: whether the step may wait for a checkpoint (a `sync`); not while
   * the program starts (`main`: no checkpoint starts before it is ready).
   */
  constructor(
    public calls = STEP_CALLS_MAX,
    public bytes = STEP_BYTES_MAX,
    public wait = true,
  ) {}

  /** True when the step has nothing left. */
  get spent(): boolean {
    return this.calls <= 0 || this.bytes <= 0;
  }

  /** Counts one call. */
  call(): void {
    this.calls--;
  }
}

/** `words` after the command: flags from `allowed` (single letters), then operands. */
function parseFlags(
  cmd: string,
  words: string[],
  allowed: string,
): { flags: Set<string>; args: string[] } {
  const flags = new Set<string>();
  let i = 0;
  for (; i < words.length && words[i].startsWith("-") && words[i] !== "-"; i++) {
    if (words[i] === "--") {
      i++;
      break;
    }
    for (const f of words[i].slice(1)) {
      if (!allowed.includes(f)) throw new UsageError(`usage: ${USAGE[cmd]}`);
      flags.add(f);
    }
  }
  return { flags, args: words.slice(i) };
}

/** Checks an operand count (`min`…`max`). */
function arity(cmd: string, args: string[], min: number, max = min): void {
  if (args.length < min || args.length > max) throw new UsageError(`usage: ${USAGE[cmd]}`);
}

/** `path` taken from `cwd` when relative ("" is `cwd`). */
export function absolute(cwd: string, path: string): string {
  if (path.startsWith("/")) return path;
  if (path === "") return cwd;
  return cwd === "/" ? `/${path}` : `${cwd}/${path}`;
}

/** `path` (absolute) with `.`, `..` and repeated slashes resolved as text. */
export function normalise(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** `name` under directory `dir`. */
function child(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** The last component of `path`. */
function basename(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return parts.length === 0 ? "/" : parts[parts.length - 1];
}

/** A name as one line shows it: control characters as `?` (as `ls -q` does). */
export function shown(name: string): string {
  // deno-lint-ignore no-control-regex
  return name.replace(/[\x00-\x1f\x7f]/g, "?");
}

/** `drwxr-xr-x`-style kind and permission bits. */
export function modeString(kind: FsStat["kind"], mode: number): string {
  const k = kind === "dir" ? "d" : kind === "symlink" ? "l" : "-";
  let bits = "";
  for (let shift = 6; shift >= 0; shift -= 3) {
    const m = mode >> shift;
    bits += (m & 4 ? "r" : "-") + (m & 2 ? "w" : "-") + (m & 1 ? "x" : "-");
  }
  return k + bits;
}

/** Unix ms as `YYYY-MM-DD HH:MM` (UTC). */
function minute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ");
}

/** A shell started without a monitor: every system command answers so. */
const noMonitor: MonitorApi = (() => {
  const none = () =>
    Promise.reject(
      new TardigradeError(Err.E_NOT_FOUND, "this shell was started without a system monitor"),
    );
  return { report: none, checkpointNow: none, inject: none, powerCut: none };
})();

/** A shell started without a kv store: `kv` answers so. */
const noKv: KvApi = {
  command: () =>
    Promise.reject(
      new TardigradeError(Err.E_NOT_FOUND, "this shell was started without a kv store"),
    ),
};

/** The commands, over one file system (the system monitor: system_commands.ts; the kv store: kv_commands.ts). */
export class Shell {
  /** The system commands; without a monitor each answers that the shell has none. */
  private readonly system: SystemCommands;

  /** The `kv` command (kv_commands.ts). */
  private readonly kv: KvCommands;

  constructor(readonly fs: FsApi, monitor?: MonitorApi, kv?: KvApi) {
    this.system = new SystemCommands(monitor ?? noMonitor);
    this.kv = new KvCommands(kv ?? noKv);
  }

  /**
   * Serves a connection's unparsed `input` for session `s` within
   * `budget`, while `room()` says its replies may grow: the job under way,
   * then request after request (session.ts framing). Returns the input
   * bytes consumed and whether work is left that more input will not
   * bring (the caller serves it again in a step of its own).
   */
  async serve(
    s: ShellState,
    input: Uint8Array,
    out: Reply,
    budget: Budget,
    room: () => boolean = () => true,
  ): Promise<{ consumed: number; more: boolean }> {
    let from = 0, ran = false;
    while (!budget.spent && room()) {
      if (s.job !== undefined) {
        // A sync (or `checkpoint now`) waits first thing in a step of its own (see the module doc).
        if ((s.job.k === "sync" || s.job.k === "checkpoint") && (ran || !budget.wait)) break;
        ran = true;
        const rest = input.subarray(from);
        if (s.job.k === "put" && rest.length === 0) break; // its payload has not come yet
        from += await this.resume(s, out, budget, rest);
        continue;
      }
      if (s.skipping) {
        const n = skipLine(input, from);
        if (n === undefined) {
          from = input.length;
          break;
        }
        from += n;
        delete s.skipping;
        out.error("EINVAL", `line longer than ${LINE_BYTES_MAX} bytes`);
        continue;
      }
      const r = nextRequest(input, from);
      if (r.kind === "incomplete") {
        if (r.skip === 0) break;
        from += r.skip;
        s.skipping = true;
        continue;
      }
      from = r.end;
      if (r.kind === "overlong") {
        out.error("EINVAL", `line longer than ${LINE_BYTES_MAX} bytes`);
        continue;
      }
      let words: string[];
      try {
        words = splitWords(r.text);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        out.error("EINVAL", e.message);
        continue;
      }
      if (words.length === 0 || words[0].startsWith("#")) continue;
      ran = true;
      await this.run(s, words, out, budget);
    }
    const waitingPut = s.job?.k === "put" && from === input.length;
    const more = room() &&
      (s.job !== undefined ? !waitingPut : skipLine(input, from) !== undefined);
    return { consumed: from, more };
  }

  /**
   * Runs request `line` for session `s`, filling `out` with its reply, or
   * with the start of it and a job in `s.job` that {@link resume} goes on
   * with. File-system errors and bad usage are replies; anything else
   * (the file system gone) throws.
   */
  async run(s: ShellState, words: string[], out: Reply, budget: Budget): Promise<void> {
    const [cmd, ...rest] = words;
    try {
      if (!Object.hasOwn(USAGE, cmd)) {
        throw new UsageError(`unknown command ${shown(cmd)}; help lists the commands`);
      }
      await this.command(s, cmd, rest, out, budget);
    } catch (e) {
      this.fail(s, e, out);
    }
  }

  /**
   * Goes on with `s.job` within `budget`; a `put` takes its payload from
   * `input`. Returns the input bytes it consumed. Ends the job (and its
   * reply) when it is done.
   */
  async resume(s: ShellState, out: Reply, budget: Budget, input: Uint8Array): Promise<number> {
    const job = s.job!;
    try {
      switch (job.k) {
        case "put":
          return await this.putSome(s, job, out, budget, input);
        case "get":
          await this.getSome(s, job, out, budget);
          return 0;
        case "rm":
          if (await this.removeSome(job.path, budget)) this.finish(s, out);
          return 0;
        case "list":
          await this.listSome(s, job, out, budget);
          return 0;
        case "sync":
          budget.call();
          await this.fs.sync();
          this.finish(s, out);
          return 0;
        case "checkpoint":
          budget.call();
          delete s.job;
          await this.system.checkpointJob(out);
          return 0;
      }
    } catch (e) {
      this.fail(s, e, out);
      return 0;
    }
  }

  /** A failed command or job: its error as the status line, the job dropped. */
  private fail(s: ShellState, e: unknown, out: Reply): void {
    if (e instanceof UsageError) {
      delete s.job;
      return out.error("EINVAL", e.message);
    }
    const f = FsError.from(e);
    if (f === undefined) throw e;
    if (s.job?.k === "put" && s.job.left > 0) {
      // The payload still comes: the job swallows it and answers this error after it.
      s.job = { ...s.job, error: `${f.errnoName}: ${fsMessage(f)}` };
      return;
    }
    delete s.job;
    out.error(f.errnoName, fsMessage(f));
  }

  /** The job is done: `ok`. */
  private finish(s: ShellState, out: Reply): void {
    delete s.job;
    out.ok();
  }

  private async command(
    s: ShellState,
    cmd: string,
    words: string[],
    out: Reply,
    budget: Budget,
  ): Promise<void> {
    const fs = this.fs, at = (p: string) => absolute(s.cwd, p);
    const noFlags = () => parseFlags(cmd, words, "").args;
    switch (cmd) {
      case "help": {
        arity(cmd, noFlags(), 0);
        for (const u of Object.values(USAGE)) out.line(u);
        return out.ok();
      }
      case "pwd":
        arity(cmd, noFlags(), 0);
        out.line(shown(s.cwd));
        return out.ok();
      case "cd": {
        const args = noFlags();
        arity(cmd, args, 0, 1);
        const to = normalise(at(args[0] ?? "/"));
        budget.call();
        if ((await fs.stat(to)).kind !== "dir") {
          throw new FsError(FsErrno.ENOTDIR, `cd ${to}: not a directory`);
        }
        s.cwd = to;
        return out.ok();
      }
      case "ls":
      case "tree":
        return await this.startList(s, cmd, words, out, budget);
      case "cat":
        return await this.cat(at(this.one(cmd, words)), out, budget);
      case "write": {
        const args = noFlags();
        arity(cmd, args, 1, Infinity);
        const fd = await fs.open(
          at(args[0]),
          OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.TRUNC,
          FILE_MODE,
        );
        try {
          await fs.write(fd, new TextEncoder().encode(args.slice(1).join(" ") + "\n"));
        } finally {
          await fs.close(fd);
        }
        budget.calls -= 3;
        return out.ok();
      }
      case "mkdir": {
        const { flags, args } = parseFlags(cmd, words, "p");
        arity(cmd, args, 1);
        if (flags.has("p")) await this.mkdirParents(normalise(at(args[0])), budget);
        else await fs.mkdir(at(args[0]), DIR_MODE);
        budget.call();
        return out.ok();
      }
      case "rm": {
        const { flags, args } = parseFlags(cmd, words, "rRf");
        arity(cmd, args, 1);
        const path = at(args[0]);
        budget.call();
        const st = await fs.lstat(path);
        if (!flags.has("r") && !flags.has("R")) {
          if (st.kind === "dir") {
            throw new FsError(FsErrno.EISDIR, `rm ${path}: is a directory (rm -r removes it)`);
          }
          await fs.unlink(path);
          return out.ok();
        }
        if (normalise(path) === "/") throw new UsageError(`rm -r /: refusing to remove the root`);
        s.job = { k: "rm", path };
        return;
      }
      case "rmdir":
        await fs.rmdir(at(this.one(cmd, words)));
        budget.call();
        return out.ok();
      case "mv": {
        const args = noFlags();
        arity(cmd, args, 2);
        const from = at(args[0]);
        let to = at(args[1]);
        budget.calls -= 2;
        // As mv(1) does: a directory as the target takes the source inside it.
        if (await this.isDir(to)) to = child(to, basename(from));
        await fs.rename(from, to);
        return out.ok();
      }
      case "ln": {
        const { flags, args } = parseFlags(cmd, words, "s");
        arity(cmd, args, 2);
        budget.call();
        if (flags.has("s")) await fs.symlink(args[0], at(args[1]));
        else await fs.link(at(args[0]), at(args[1]));
        return out.ok();
      }
      case "stat":
        return await this.stat(at(this.one(cmd, words)), out, budget);
      case "df": {
        arity(cmd, noFlags(), 0);
        budget.call();
        const sp = await fs.space();
        out.line(`block-bytes: ${FS_BLOCK_BYTES}`);
        out.line(`blocks: ${sp.totalBlocks}`);
        out.line(`used: ${sp.totalBlocks - sp.freeBlocks}`);
        out.line(`free: ${sp.freeBlocks}`);
        out.line(`inodes: ${sp.inodes}`);
        out.line(`metadata-bytes: ${sp.metadataBytes} of ${sp.metadataCapacity}`);
        return out.ok();
      }
      case "sync":
        arity(cmd, noFlags(), 0);
        s.job = { k: "sync" };
        return;
      case "put":
        return await this.startPut(s, words, out, budget);
      case "get":
        return await this.startGet(s, at(this.one(cmd, words)), out, budget);
      case "kv":
        budget.call();
        return await this.kv.run(words, out);
      default:
        budget.call();
        return await this.system.run(s, cmd, words, out);
    }
  }

  /** The one operand of `cmd`. */
  private one(cmd: string, words: string[]): string {
    const args = parseFlags(cmd, words, "").args;
    arity(cmd, args, 1);
    return args[0];
  }

  /** True when `path` names a directory (after symlinks); false when it names nothing. */
  private async isDir(path: string): Promise<boolean> {
    try {
      return (await this.fs.stat(path)).kind === "dir";
    } catch (e) {
      if (FsError.from(e)?.errnoName === "ENOENT") return false;
      throw e;
    }
  }

  /** `mkdir -p`: every missing directory of `path`, an existing one left as it is. */
  private async mkdirParents(path: string, budget: Budget): Promise<void> {
    let at = "";
    for (const part of path.split("/").filter((p) => p !== "")) {
      at += "/" + part;
      budget.call();
      try {
        await this.fs.mkdir(at, DIR_MODE);
      } catch (e) {
        if (FsError.from(e)?.errnoName !== "EEXIST") throw e;
        budget.call();
        if (!(await this.isDir(at))) {
          throw new FsError(FsErrno.ENOTDIR, `mkdir -p ${path}: ${at} is not a directory`);
        }
      }
    }
  }

  private async cat(path: string, out: Reply, budget: Budget): Promise<void> {
    budget.calls -= 3;
    const fd = await this.fs.open(path, OpenFlag.RDONLY);
    let data: Uint8Array;
    try {
      const st = await this.fs.fstat(fd);
      if (st.kind === "dir") throw new FsError(FsErrno.EISDIR, `cat ${path}: is a directory`);
      if (st.size > CAT_BYTES_MAX) {
        throw new FsError(
          FsErrno.EFBIG,
          `cat ${path}: ${st.size} bytes, more than cat shows (${CAT_BYTES_MAX}); get sends it`,
        );
      }
      data = await this.fs.pread(fd, 0, st.size);
    } finally {
      await this.fs.close(fd);
    }
    budget.bytes -= data.length;
    const text = new TextDecoder().decode(data);
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (const l of lines) out.line(l.replace(/\r$/, ""));
    out.ok();
  }

  private async stat(path: string, out: Reply, budget: Budget): Promise<void> {
    budget.call();
    const st = await this.fs.lstat(path);
    const target = st.kind === "symlink" ? ` -> ${shown(await this.fs.readlink(path))}` : "";
    out.line(`file: ${shown(path)}${target}`);
    out.line(`kind: ${st.kind}`);
    out.line(`size: ${st.size}`);
    out.line(`blocks: ${st.blocks}`);
    out.line(`inode: ${st.ino}`);
    out.line(`links: ${st.nlink}`);
    out.line(`mode: ${st.mode.toString(8).padStart(4, "0")} (${modeString(st.kind, st.mode)})`);
    out.line(`access: ${new Date(st.atimeMs).toISOString()}`);
    out.line(`modify: ${new Date(st.mtimeMs).toISOString()}`);
    out.line(`change: ${new Date(st.ctimeMs).toISOString()}`);
    out.ok();
  }

  // ── put and get ──

  private async startPut(
    s: ShellState,
    words: string[],
    out: Reply,
    budget: Budget,
  ): Promise<void> {
    const args = parseFlags("put", words, "").args;
    arity("put", args, 2);
    const length = Number(args[1]);
    if (!/^[0-9]+$/.test(args[1]) || length > Math.min(PUT_BYTES_MAX, FILE_BYTES_MAX)) {
      throw new UsageError(
        `usage: ${USAGE.put}: LENGTH must be 0…${FILE_BYTES_MAX}, got ${args[1]}`,
      );
    }
    const path = absolute(s.cwd, args[0]);
    // The job first: should the open fail, the payload that follows is still swallowed.
    s.job = { k: "put", path, left: length, at: 0 };
    budget.calls -= 2;
    await this.fs.close(
      await this.fs.open(path, OpenFlag.WRONLY | OpenFlag.CREAT | OpenFlag.TRUNC, FILE_MODE),
    );
    if (length === 0) this.finish(s, out);
  }

  /** Writes what of the put's payload `input` holds (within the budget); answers once it is all in. */
  private async putSome(
    s: ShellState,
    job: Extract<Job, { k: "put" }>,
    out: Reply,
    budget: Budget,
    input: Uint8Array,
  ): Promise<number> {
    const n = Math.min(job.left, input.length, Math.max(budget.bytes, 0));
    if (n > 0 && job.error === undefined) {
      budget.calls -= 3;
      const fd = await this.fs.open(job.path, OpenFlag.WRONLY);
      try {
        let done = 0;
        while (done < n) done += await this.fs.pwrite(fd, job.at + done, input.subarray(done, n));
      } finally {
        await this.fs.close(fd);
      }
    }
    budget.bytes -= n;
    s.job = { ...job, left: job.left - n, at: job.at + n };
    if (job.left - n === 0) {
      delete s.job;
      if (job.error === undefined) out.ok();
      else {out.error(
          job.error.slice(0, job.error.indexOf(":")),
          job.error.slice(job.error.indexOf(":") + 2),
        );}
    }
    return n;
  }

  private async startGet(s: ShellState, path: string, out: Reply, budget: Budget): Promise<void> {
    budget.call();
    const st = await this.fs.stat(path);
    if (st.kind === "dir") throw new FsError(FsErrno.EISDIR, `get ${path}: is a directory`);
    out.line(String(st.size));
    s.job = { k: "get", path, length: st.size, at: 0 };
    if (st.size === 0) this.finish(s, out);
  }

  /** Sends the next piece of a get's body; a file that shrank meanwhile is padded and answered EIO. */
  private async getSome(
    s: ShellState,
    job: Extract<Job, { k: "get" }>,
    out: Reply,
    budget: Budget,
  ): Promise<void> {
    const n = Math.min(job.length - job.at, Math.max(budget.bytes, 0));
    budget.calls -= 3;
    let data: Uint8Array;
    try {
      const fd = await this.fs.open(job.path, OpenFlag.RDONLY);
      try {
        data = await this.fs.pread(fd, job.at, n);
      } finally {
        await this.fs.close(fd);
      }
    } catch (e) {
      // The length is sent already: the body is kept whole (zeros) and the error follows it.
      if (FsError.from(e) === undefined) throw e;
      data = new Uint8Array(0);
      const f = FsError.from(e)!;
      job.error = `${f.errnoName}: ${fsMessage(f)}`;
    }
    budget.bytes -= n;
    const short = data.length < n;
    out.raw(short ? padded(data, n) : data);
    if (short) job.error ??= `EIO: get ${job.path}: the file shrank while it was sent`;
    if (job.error !== undefined) {
      out.raw(new Uint8Array(job.length - job.at - n));
      delete s.job;
      const e = job.error;
      return out.error(e.slice(0, e.indexOf(":")), e.slice(e.indexOf(":") + 2));
    }
    s.job = { ...job, at: job.at + n };
    if (job.at + n === job.length) this.finish(s, out);
  }

  // ── rm -r ──

  /**
   * Removes what is left of `path` within the budget (depth first, a
   * directory once it is empty); true once it is all gone. Each step walks
   * again from `path`: what earlier steps removed is not there to visit.
   */
  private async removeSome(path: string, budget: Budget): Promise<boolean> {
    if (budget.spent) return false;
    budget.call();
    let st: FsStat;
    try {
      st = await this.fs.lstat(path);
    } catch (e) {
      if (FsError.from(e)?.errnoName === "ENOENT") return true; // removed by someone else
      throw e;
    }
    if (st.kind !== "dir") {
      budget.call();
      await this.fs.unlink(path);
      return true;
    }
    budget.call();
    for (const e of await this.fs.readdir(path)) {
      if (!(await this.removeSome(child(path, e.name), budget))) return false;
    }
    if (budget.spent) return false;
    budget.call();
    await this.fs.rmdir(path);
    return true;
  }

  // ── ls and tree ──

  private async startList(
    s: ShellState,
    cmd: "ls" | "tree",
    words: string[],
    out: Reply,
    budget: Budget,
  ): Promise<void> {
    const { flags, args } = parseFlags(cmd, words, cmd === "ls" ? "l" : "");
    arity(cmd, args, 0, 1);
    const path = absolute(s.cwd, args[0] ?? "");
    const long = flags.has("l"), tree = cmd === "tree";
    budget.call();
    const st = await this.fs.stat(path);
    if (st.kind !== "dir") {
      // A file is listed as itself.
      if (tree) out.line(shown(args[0] ?? path));
      else {out.line(
          long ? await this.longLine(path, args[0] ?? path, budget) : shown(args[0] ?? path),
        );}
      if (tree) out.line("0 directories, 1 file");
      return out.ok();
    }
    if (tree) out.line(shown(args[0] ?? path));
    s.job = {
      k: "list",
      tree,
      long,
      frames: [await this.frame(path, "", budget)],
      dirs: 0,
      files: 0,
    };
  }

  /** A listing frame for directory `dir`: its names, sorted. */
  private async frame(dir: string, prefix: string, budget: Budget): Promise<ListFrame> {
    budget.call();
    const names = (await this.fs.readdir(dir)).map((e) => e.name).sort();
    return { dir, names, i: 0, prefix };
  }

  /** Shows the next names of a listing within the budget; `ok` (after tree's count) at its end. */
  private async listSome(
    s: ShellState,
    job: Extract<Job, { k: "list" }>,
    out: Reply,
    budget: Budget,
  ): Promise<void> {
    while (job.frames.length > 0 && !budget.spent) {
      const f = job.frames[job.frames.length - 1];
      if (f.i === f.names.length) {
        job.frames.pop();
        continue;
      }
      const name = f.names[f.i++], path = child(f.dir, name);
      if (!job.tree) {
        out.line(job.long ? await this.longLine(path, name, budget) : shown(name));
        continue;
      }
      const last = f.i === f.names.length;
      budget.call();
      let st: FsStat | undefined;
      try {
        st = await this.fs.lstat(path);
      } catch (e) {
        if (FsError.from(e)?.errnoName !== "ENOENT") throw e; // gone since the listing: skipped
        continue;
      }
      const target = st.kind === "symlink" ? ` -> ${shown(await this.fs.readlink(path))}` : "";
      out.line(`${f.prefix}${last ? "└── " : "├── "}${shown(name)}${target}`);
      if (st.kind === "dir") {
        job.dirs++;
        job.frames.push(await this.frame(path, f.prefix + (last ? "    " : "│   "), budget));
      } else {
        job.files++;
      }
    }
    if (job.frames.length > 0) {
      s.job = job;
      return;
    }
    if (job.tree) {
      out.line(
        `${job.dirs} ${job.dirs === 1 ? "directory" : "directories"}, ${job.files} ${
          job.files === 1 ? "file" : "files"
        }`,
      );
    }
    this.finish(s, out);
  }

  /** `ls -l`'s line for `path`, shown as `name`. */
  private async longLine(path: string, name: string, budget: Budget): Promise<string> {
    budget.call();
    const st = await this.fs.lstat(path);
    const target = st.kind === "symlink" ? ` -> ${shown(await this.fs.readlink(path))}` : "";
    return `${modeString(st.kind, st.mode)} ${String(st.nlink).padStart(3)} ` +
      `${String(st.size).padStart(10)} ${minute(st.mtimeMs)} ${shown(name)}${target}`;
  }
}

/** An FsError's message without the codes in front ("E_FS: ENOENT: "): the status line names it. */
function fsMessage(f: FsError): string {
  return f.message.replace(/^(E_FS: )?E[A-Z]+: /, "");
}

/** `data` followed by zeros to `n` bytes. */
function padded(data: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(data);
  return out;
}
