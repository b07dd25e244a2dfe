/**
 * The shell's wire protocol, as pure functions: how a connection's bytes
 * become requests, how replies are framed, and how a client reads them
 * back (tools/fs.ts, the tests). The app (servers/apps/shell/main.ts) keeps
 * the bytes; the commands (commands.ts) fill the replies.
 *
 * Map of this file:
 * - {@link nextRequest}: the next line (or the raw payload a `put` waits
 *   for) in a connection's unparsed input;
 * - {@link splitWords}: a request line as words (quotes, backslashes);
 * - {@link Reply}: a reply being built (data lines stuffed, raw bytes, the
 *   status line);
 * - {@link ReplyReader}: the client side, reading replies off a stream;
 * - {@link ShellState}, {@link encodeState}, {@link decodeState}: what a
 *   session keeps across a crash (its record's text).
 *
 * ## The protocol
 *
 * A request is one line (LF ends it, a CR before the LF is dropped), at
 * most {@link LINE_BYTES_MAX} bytes; words are split at spaces and tabs,
 * `'…'` and `"…"` quote, a backslash outside single quotes takes the next
 * character as it is. An empty line or one starting `#` gets no reply.
 * `put PATH LENGTH` is followed by exactly LENGTH raw bytes, the file's
 * contents; the next request starts after them.
 *
 * Every reply is zero or more data lines, then ONE status line: `ok`, or
 * `error NAME: message` with NAME a POSIX error name (servers/fs/vfs.ts
 * FsErrno; EINVAL for a bad command or argument, whose message is the
 * command's one-line usage). A data line that would read as a status
 * line (`ok`, or starting `error `) or that starts with a backslash is
 * sent with one more backslash in front (as SMTP stuffs a leading dot); a
 * client drops one leading backslash of every data line. `get PATH`
 * answers a data line with the file's length in bytes, exactly that many
 * raw bytes, then its status line (or only `error …`).
 *
 * Replies come in request order, each released only once the checkpoint
 * of the step that made it has committed (as all output is), so `ok`
 * means that request's change is durable.
 *
 * @module
 */

/** Longest request line in bytes (its newline not counted): past it the line is refused whole. */
export const LINE_BYTES_MAX = 64 * 1024;
/** Largest `put` payload in bytes (the file system's largest file). */
export const PUT_BYTES_MAX = 2 ** 32;

const NEWLINE = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What {@link nextRequest} found at the front of the input. */
export type Request =
  /** A whole line (its text without CR/LF); `end` is where the next request starts. */
  | { kind: "line"; text: string; end: number }
  /** A line longer than {@link LINE_BYTES_MAX}: skipped through its newline (`end`). */
  | { kind: "overlong"; end: number }
  /** Not a whole line yet: wait for more input (`skip` bytes of an overlong line may be dropped). */
  | { kind: "incomplete"; skip: number };

/**
 * The next request line in `input` from `from`. A line that grows past
 * {@link LINE_BYTES_MAX} without a newline is "incomplete" with `skip` set
 * to what may be dropped; the caller remembers that it is inside one and
 * drops through its newline ({@link skipLine}).
 */
export function nextRequest(input: Uint8Array, from: number): Request {
  const stop = Math.min(input.length, from + LINE_BYTES_MAX + 2);
  const nl = input.subarray(from, stop).indexOf(NEWLINE);
  if (nl < 0) {
    return { kind: "incomplete", skip: stop - from > LINE_BYTES_MAX + 1 ? stop - from : 0 };
  }
  let end = from + nl;
  const next = end + 1;
  if (end > from && input[end - 1] === CR) end--;
  if (end - from > LINE_BYTES_MAX) return { kind: "overlong", end: next };
  return { kind: "line", text: decoder.decode(input.subarray(from, end)), end: next };
}

/** Bytes of `input` from `from` through the next newline, or undefined when none is there. */
export function skipLine(input: Uint8Array, from: number): number | undefined {
  const nl = input.subarray(from).indexOf(NEWLINE);
  return nl < 0 ? undefined : nl + 1;
}

/**
 * A request line as words: split at spaces and tabs; '…' keeps everything
 * as it is, "…" and bare text take a backslash as "the next character as
 * it is". Throws a {@link UsageError} for an unclosed quote.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "", inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
    } else if (c === "'" || c === '"') {
      const close = c === "'" ? line.indexOf("'", i + 1) : closingDouble(line, i + 1);
      if (close < 0) throw new UsageError(`unclosed ${c} in: ${line}`);
      const inner = line.slice(i + 1, close);
      word += c === "'" ? inner : inner.replace(/\\(.)/g, "$1");
      i = close;
    } else {
      word += c;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Index of the `"` closing a double-quoted part that starts at `from`, or -1. */
function closingDouble(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    if (line[i] === "\\") i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

/** A bad command or argument: answered `error EINVAL: <message>` (the usage line). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** True when a data line must be stuffed (it would read as a status line or starts with `\`). */
function needsStuffing(text: string): boolean {
  return text === "ok" || text.startsWith("error ") || text.startsWith("\\");
}

/** Replies being built, in order (the bytes of as many replies as a step makes). */
export class Reply {
  private readonly parts: Uint8Array[] = [];
  private n = 0;

  /** A data line (stuffed as the protocol says; a newline inside it would break the frame, so none may be). */
  line(text: string): void {
    this.push(encoder.encode((needsStuffing(text) ? "\\" : "") + text + "\n"));
  }

  /** Raw bytes (the body of a `get`). */
  raw(bytes: Uint8Array): void {
    this.push(bytes.slice());
  }

  /** The status line `ok`. */
  ok(): void {
    this.push(encoder.encode("ok\n"));
  }

  /** The status line `error NAME: message` (newlines in the message become spaces). */
  error(name: string, message: string): void {
    this.push(encoder.encode(`error ${name}: ${message.replace(/[\r\n]+/g, " ")}\n`));
  }

  /** Bytes so far. */
  get length(): number {
    return this.n;
  }

  /** Everything so far, joined; the builder is empty again. */
  take(): Uint8Array {
    const out = new Uint8Array(this.n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.parts.length = 0;
    this.n = 0;
    return out;
  }

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.n += bytes.length;
  }
}

/** One reply as a client reads it. */
export interface ParsedReply {
  /** Data lines, unstuffed. */
  lines: string[];
  /** The raw body of a `get` (undefined for other replies). */
  body?: Uint8Array;
  /** True for `ok`. */
  ok: boolean;
  /** The POSIX name and message of an `error` status line. */
  errno?: string;
  message?: string;
}

/**
 * The client side: feed it the bytes a connection receives, take replies
 * off it in order; `expect` says whether the next reply is a `get`'s
 * (a length line, raw bytes, then the status line).
 */
export class ReplyReader {
  private buf = new Uint8Array(0);
  private at = 0;
  private lines: string[] = [];
  private body: Uint8Array | undefined;

  /** Adds received bytes. */
  push(bytes: Uint8Array): void {
    const keep = this.buf.subarray(this.at);
    const next = new Uint8Array(keep.length + bytes.length);
    next.set(keep);
    next.set(bytes, keep.length);
    this.buf = next;
    this.at = 0;
  }

  /** The next whole reply, or undefined when its bytes are not all here yet. */
  next(expect: "text" | "get"): ParsedReply | undefined {
    for (;;) {
      if (expect === "get" && this.body === undefined && this.lines.length === 1) {
        const length = Number(this.lines[0]);
        if (this.buf.length - this.at < length) return undefined;
        this.body = this.buf.slice(this.at, this.at + length);
        this.at += length;
        this.lines = [];
      }
      const nl = this.buf.subarray(this.at).indexOf(NEWLINE);
      if (nl < 0) return undefined;
      const text = decoder.decode(this.buf.subarray(this.at, this.at + nl));
      this.at += nl + 1;
      if (text === "ok" || text.startsWith("error ")) {
        const m = /^error ([A-Z0-9_]+): ?(.*)$/s.exec(text);
        const reply: ParsedReply = {
          lines: this.lines,
          ok: text === "ok",
          ...(this.body !== undefined ? { body: this.body } : {}),
          ...(m ? { errno: m[1], message: m[2] } : {}),
        };
        this.lines = [];
        this.body = undefined;
        return reply;
      }
      this.lines.push(text.charCodeAt(0) === BACKSLASH ? text.slice(1) : text);
    }
  }
}

/** A long command under way, resumed step after step (commands.ts runs it). */
export type Job =
  /** Receiving a `put`'s payload: `left` bytes still to come, written at `at` (`error`: swallowed, then answered). */
  | { k: "put"; path: string; left: number; at: number; error?: string }
  /** Sending a `get`'s body: `length` bytes in all, `at` sent (`error`: "NAME: message" to end with). */
  | { k: "get"; path: string; length: number; at: number; error?: string }
  /** `sync`: waits for the checkpoint covering what came before it, first thing in a step. */
  | { k: "sync" }
  /** `checkpoint now`: takes one and waits for its commit, first thing in a step (as `sync`). */
  | { k: "checkpoint" }
  /** `rm -r`: what is left of `path` goes, a bounded number of names per step. */
  | { k: "rm"; path: string }
  /** `ls` or `tree`: the directories being listed, innermost last. */
  | { k: "list"; tree: boolean; long: boolean; frames: ListFrame[]; dirs: number; files: number };

/** One directory of a listing under way. */
export interface ListFrame {
  /** Absolute path of the directory. */
  dir: string;
  /** Its entries' names, sorted. */
  names: string[];
  /** Next name to show. */
  i: number;
  /** The tree's indent for its entries. */
  prefix: string;
}

/** What a session keeps across crashes. */
export interface ShellState {
  /** Current directory (absolute, normalised). */
  cwd: string;
  /** The command under way, if any. */
  job?: Job;
  /** True while the rest of an overlong line is being dropped. */
  skipping?: boolean;
}

/** A fresh session's state. */
export function freshState(): ShellState {
  return { cwd: "/" };
}

/** The text a session's record keeps. */
export function encodeState(s: ShellState): string {
  return JSON.stringify(s);
}

/** The state in a record's text ("" is a fresh session). */
export function decodeState(text: string): ShellState {
  return text === "" ? freshState() : JSON.parse(text) as ShellState;
}
