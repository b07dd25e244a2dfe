/**
 * Drives a machine process from outside: start it as a child process
 * (`Deno.execPath()`), read its JSON lines, wait for "ready", kill it
 * (SIGKILL = power failure) or shut it down (SIGTERM = clean).
 *
 * {@link ConsoleView} is the outside observer: it keeps, per thread, how
 * many console bytes (UTF-8) it has shown, so a machine that re-releases
 * output after a resume is never shown the same byte twice (like TCP
 * sequence numbers), and it counts a re-sent byte that differs (a rollback
 * it could see) and a byte it never got. The supervisor, the scenario runner and the tests share both.
 *
 * @module
 */

import type { MachineLine } from "../hw/board.ts";
import { textLines } from "../hw/text_lines.ts";
import type { FaultKind } from "../kernel/abi/protocol.ts";
import type { MachineCommand } from "../hw/commands.ts";
import { CONSOLE_RING_BYTES } from "../kernel/abi/limits.ts";

const REPO = new URL("../", import.meta.url);

/**
 * Deno permissions of the machine process: read the code and the image,
 * write only the image; with a network link (`--net-link PATH` in `args`),
 * that one Unix socket and no other network.
 */
export function machinePermissionFlags(imagePath: string, args: string[] = []): string[] {
  const at = args.indexOf("--net-link");
  const link = at >= 0 ? args[at + 1] : undefined;
  return [
    "--unstable-worker-options",
    `--allow-read=${REPO.pathname},${imagePath}${link ? `,${link}` : ""}`,
    `--allow-write=${imagePath}${link ? `,${link}` : ""}`,
    ...(link ? [`--allow-net=unix:${link}`] : []),
  ];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** What a decoder makes of bytes that do not start a character. */
const REPLACEMENT = "\uFFFD";

/** What the observer knows of one thread's console. */
interface ThreadView {
  /** Byte offset of the end of what was shown. */
  shown: number;
  /** Byte offset of the first byte shown (a console need not start at 0). */
  first: number;
  /** The last {@link CONSOLE_RING_BYTES} bytes shown, at their offset modulo the ring. */
  recent: Uint8Array;
}

/**
 * Console output as an outside observer saw it, deduplicated by byte offset
 * (UTF-8 bytes, as the machine counts them, not UTF-16 units). A machine
 * never re-sends more than a ring's worth, so the observer keeps only the
 * last ring's worth of bytes to compare a re-send against.
 */
export class ConsoleView {
  private readonly threads = new Map<number, ThreadView>();
  /** Everything shown, per thread. */
  readonly text = new Map<number, string>();
  /**
   * Re-sent bytes that differ from what was shown before: an observer that
   * detects a rollback. Must stay 0 (invariant 1).
   */
  rollbacksSeen = 0;
  /** Bytes never received: a frame that starts past the end of what was shown. Must stay 0. */
  bytesMissed = 0;

  /** A fresh machine: thread ids start again. */
  reset(): void {
    this.threads.clear();
    this.text.clear();
  }

  /** Returns the part of a console frame not shown before ("" if none). */
  accept(line: Extract<MachineLine, { t: "console" }>): string {
    let v = this.threads.get(line.thread);
    if (!v) {
      v = { shown: line.off, first: line.off, recent: new Uint8Array(CONSOLE_RING_BYTES) };
      this.threads.set(line.thread, v);
    }
    let off = line.off;
    let text = line.text;
    // A re-send that starts inside a character: its first bytes decode as one U+FFFD each.
    const partial = this.partialCharAt(v, off);
    if (partial > 0 && text.startsWith(REPLACEMENT.repeat(partial))) {
      off += partial;
      text = text.slice(partial);
    }
    const bytes = encoder.encode(text);
    const end = off + bytes.length;
    if (off > v.shown) this.bytesMissed += off - v.shown;
    const oldest = Math.max(v.first, v.shown - CONSOLE_RING_BYTES);
    for (let at = Math.max(off, oldest); at < Math.min(end, v.shown); at++) {
      if (bytes[at - off] !== v.recent[at % CONSOLE_RING_BYTES]) {
        this.rollbacksSeen++;
        break;
      }
    }
    if (end <= v.shown) return "";
    const fresh = bytes.subarray(Math.max(0, v.shown - off));
    for (let i = 0; i < fresh.length; i++) {
      v.recent[(end - fresh.length + i) % CONSOLE_RING_BYTES] = fresh[i];
    }
    v.shown = end;
    const shown = decoder.decode(fresh);
    this.text.set(line.thread, (this.text.get(line.thread) ?? "") + shown);
    return shown;
  }

  /** How many bytes at `off` continue a character begun before it (0 if `off` starts one, or is unknown). */
  private partialCharAt(v: ThreadView, off: number): number {
    const oldest = Math.max(v.first, v.shown - CONSOLE_RING_BYTES);
    let n = 0;
    while (n < 3 && off + n >= oldest && off + n < v.shown) {
      if ((v.recent[(off + n) % CONSOLE_RING_BYTES] & 0xc0) !== 0x80) break;
      n++;
    }
    return n;
  }
}

/** True when machine flags `args` open the command port on stdin. */
export function opensCommandPort(args: string[]): boolean {
  return args.includes("--commands") || args.includes("--fault-injection");
}

/** A running machine process. */
export class MachineProcess {
  readonly child: Deno.ChildProcess;
  /** Every line the machine printed, in order. */
  readonly lines: MachineLine[] = [];
  private readonly listeners: Array<(line: MachineLine) => void> = [];
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  private readonly stderrText: Promise<string>;
  private commands: WritableStreamDefaultWriter<Uint8Array> | undefined;

  private constructor(imagePath: string, args: string[], quietStderr: boolean) {
    const script = new URL("../hw/machine.ts", import.meta.url).pathname;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...machinePermissionFlags(imagePath, args),
        script,
        "--image",
        imagePath,
        ...args,
      ],
      stdout: "piped",
      stderr: quietStderr ? "piped" : "inherit",
      // The command port is the machine's stdin.
      stdin: opensCommandPort(args) ? "piped" : "null",
    }).spawn();
    if (opensCommandPort(args)) this.commands = this.child.stdin.getWriter();
    this.stderrText = quietStderr ? new Response(this.child.stderr).text() : Promise.resolve("");
    this.exited = this.readLines().then(() => this.child.status);
  }

  /** Starts a machine on `imagePath` with machine flags `args` (see hw/machine.ts). */
  static start(
    imagePath: string,
    args: string[] = [],
    opts: { quietStderr?: boolean } = {},
  ): MachineProcess {
    return new MachineProcess(imagePath, args, opts.quietStderr ?? true);
  }

  private async readLines(): Promise<void> {
    for await (const raw of textLines(this.child.stdout)) {
      let line: MachineLine;
      try {
        line = JSON.parse(raw) as MachineLine;
      } catch {
        line = { t: "log", text: raw };
      }
      this.lines.push(line);
      for (const l of this.listeners) l(line);
    }
  }

  /** Calls `fn` for every line from now on, and for the lines so far from index `since`. */
  onLine(fn: (line: MachineLine) => void, since = 0): void {
    for (const l of this.lines.slice(since)) fn(l);
    this.listeners.push(fn);
  }

  /**
   * Resolves with the first line matching `pred` (looking from line index
   * `since`); rejects if the machine exits first or time runs out.
   */
  waitFor<T extends MachineLine>(
    pred: (l: MachineLine) => l is T,
    timeoutMs?: number,
    since?: number,
  ): Promise<T>;
  waitFor(
    pred: (l: MachineLine) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<MachineLine>;
  waitFor(pred: (l: MachineLine) => boolean, timeoutMs = 60_000, since = 0): Promise<MachineLine> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(
        () => finish(() => reject(new Error(`machine: no matching line within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f();
      };
      this.onLine((l) => {
        if (pred(l)) finish(() => resolve(l));
      }, since);
      this.exited.then(async (s) => {
        const err = await this.stderrText;
        finish(() =>
          reject(
            new Error(
              `machine exited with code ${s.code} before the awaited line\n${this.describeErrors()}${
                err.slice(-2000)
              }`,
            ),
          )
        );
      });
    });
  }

  /** Waits for the "ready" line. */
  ready(timeoutMs = 60_000): Promise<Extract<MachineLine, { t: "ready" }>> {
    return this.waitFor(
      (l): l is Extract<MachineLine, { t: "ready" }> => l.t === "ready",
      timeoutMs,
    );
  }

  /** Sends a command to the machine's command port (started with --commands or --fault-injection). */
  async send(cmd: MachineCommand): Promise<void> {
    if (!this.commands) {
      throw new Error(`${cmd.t}: start the machine with --commands (or --fault-injection)`);
    }
    await this.commands.write(new TextEncoder().encode(JSON.stringify(cmd) + "\n"));
  }

  /** Makes component `target` commit `fault` (a machine started with --fault-injection). */
  inject(target: string, fault: FaultKind, seed: number): Promise<void> {
    return this.send({ t: "inject", target, fault, seed });
  }

  /** Power failure: SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.exited;
  }

  /** Clean shutdown (final checkpoint); resolves with the exit status. */
  async shutdown(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    return await this.exited;
  }

  /** The machine's error lines, for failure messages. */
  describeErrors(): string {
    return this.lines.filter((l) => l.t === "error").map((l) => JSON.stringify(l)).join("\n");
  }

  /** What the machine wrote to stderr (when quiet). */
  stderr(): Promise<string> {
    return this.stderrText;
  }
}
