/**
 * The shell's console session: the lines typed on the boot terminal
 * (`deno task boot --apps shell`), read from the console input device
 * (kernel/abi/console_in.ts, granted as "console-in" with its IRQ
 * "console-in-irq"), run by the same commands as a TCP session
 * (commands.ts), answered on the shell's console (released after commit,
 * like all output).
 *
 * Map of this file:
 * - {@link ConsoleSession.open}: maps the device, binds a notification to
 *   its IRQ, serves what waits;
 * - {@link ConsoleSession.step}: one step: line after line within a
 *   {@link Budget} and the console's room;
 * - the session's state in the heap ({@link ROOT_CONSOLE}) and
 *   {@link humanText}, the replies as a person reads them.
 *
 * Human output: each line run is echoed first as `CWD $ LINE`, then its
 * answer: the data lines unstuffed, an `error NAME: message` line as it
 * is, no `ok` line (the echo of the next line, or nothing, says it
 * finished). `put` and `get` move raw bytes, which a keyboard does not
 * type: on the console they answer `error EINVAL` (use the TCP port,
 * `deno task fs`).
 *
 * Exactly once: the step that runs a line also moves the device's TAIL
 * past it, saves the session's state (current directory, the job under
 * way) in the heap and prints the answer, so a checkpoint holds all of it
 * or none; a resumed shell runs from the TAIL it holds (a `ls` or `rm -r`
 * under way goes on from its state).
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { ConsoleInReader } from "../../../kernel/abi/console_in.ts";
import { CONSOLE_INPUT_LINE_BYTES_MAX } from "../../../kernel/abi/limits.ts";
import type { PersistentHeap } from "../../pmem/heap.ts";
import { CapName } from "../../runtime/names.ts";
import type { Context } from "../../runtime/program.ts";
import { lastingNotification } from "../../runtime/service.ts";
import { Budget, type Shell } from "./commands.ts";
import { decodeState, encodeState, freshState, Reply, type ShellState } from "./session.ts";

/** Heap root word of the console session's state (the connection table is root 0). */
export const ROOT_CONSOLE = 2;
/** Answer bytes one step prints at most (the rest goes on in the next step). */
export const CONSOLE_SHARE_BYTES = 8 * 1024;
/** Room kept free in the console ring past a step's share (an echo, an error line). */
const CONSOLE_MARGIN_BYTES = CONSOLE_INPUT_LINE_BYTES_MAX + 1024;

const NEWLINE = 0x0a;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Replies (session.ts framing) as a person reads them: no `ok` lines, data lines unstuffed. */
export function humanText(bytes: Uint8Array): string {
  const lines = decoder.decode(bytes).split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.filter((l) => l !== "ok").map((l) => l.startsWith("\\") ? l.slice(1) : l)
    .join("\n");
}

/** Commands that move raw bytes, which the console cannot carry. */
const RAW_COMMANDS = new Set(["put", "get"]);

/** The console session (see the module doc). */
export class ConsoleSession {
  private queued: Promise<void> | undefined;

  private constructor(
    private readonly ctx: Context,
    private readonly heap: PersistentHeap,
    private readonly shell: Shell,
    private readonly reader: ConsoleInReader,
    private readonly notifSlot: number,
    private readonly exclusive: (fn: () => Promise<void>) => Promise<void>,
    private readonly starting: () => boolean,
  ) {}

  /**
   * Opens the session when init granted the device (undefined otherwise):
   * maps it, binds a notification to its IRQ (once; kept by name), and
   * registers the step. `exclusive` runs a step after every other step of
   * the shell has settled; `starting` is true while `main` runs (no step
   * may wait for a checkpoint then).
   */
  static async open(
    ctx: Context,
    heap: PersistentHeap,
    shell: Shell,
    exclusive: (fn: () => Promise<void>) => Promise<void>,
    starting: () => boolean,
  ): Promise<ConsoleSession | undefined> {
    if (ctx.names.get(CapName.CONSOLE_IN) === undefined) return undefined;
    const mem = await ctx.map(ctx.cap(CapName.CONSOLE_IN), true);
    const irq = await lastingNotification(ctx, "console-in-irq");
    if (irq.created) await ctx.sys.irqBind(ctx.cap(CapName.CONSOLE_IN_IRQ), irq.slot, 1);
    const session = new ConsoleSession(
      ctx,
      heap,
      shell,
      new ConsoleInReader(mem),
      irq.slot,
      exclusive,
      starting,
    );
    await ctx.onNotification(irq.slot, () => session.wake());
    return session;
  }

  /**
   * Runs one step after every other step of the shell (the first in
   * `main`, the others on the device's IRQ); a wake while one waits to run
   * is the same step. Work left is signalled, so it goes on in a step of
   * its own, never in `main`.
   */
  wake(): Promise<void> {
    return this.queued ??= this.exclusive(async () => {
      this.queued = undefined;
      if (await this.step()) await this.again();
    });
  }

  /** Signals the session's own notification: one more step follows, a step of its own. */
  private async again(): Promise<void> {
    await this.ctx.sys.notificationSignal(this.notifSlot);
  }

  /** Bytes of answer this step may still make. */
  private limit(): number {
    return Math.min(CONSOLE_SHARE_BYTES, this.ctx.consoleRoom() - CONSOLE_MARGIN_BYTES);
  }

  /**
   * One step: the job under way, then line after line, while the budget
   * and the console's room last; consumes the lines it ran, saves the
   * state, prints the answers. Returns true when work is left (a job, more
   * lines, a `sync` that waits for the next step, a full console).
   */
  private async step(): Promise<boolean> {
    const s = this.loadState(), out = new Reply();
    const budget = new Budget(undefined, undefined, !this.starting());
    const input = this.reader.pending();
    const room = () => out.length < this.limit();
    let consumed = 0, ran = false;
    while (!budget.spent && room()) {
      if (s.job !== undefined) {
        // A sync waits first thing in a step of its own (commands.ts).
        if (s.job.k === "sync" && (ran || !budget.wait)) break;
        ran = true;
        await this.shell.serve(s, EMPTY, out, budget, room);
        if (s.job !== undefined) break;
        continue;
      }
      const nl = input.indexOf(NEWLINE, consumed);
      if (nl < 0) break;
      const line = input.subarray(consumed, nl + 1);
      consumed = nl + 1;
      const text = decoder.decode(line.subarray(0, line.length - 1)).replace(/\r$/, "");
      if (text.trim() === "" || text.trim().startsWith("#")) continue;
      out.line(`${s.cwd} $ ${text}`);
      if (RAW_COMMANDS.has(text.trim().split(/\s+/)[0])) {
        out.error("EINVAL", "put and get move raw bytes: use the TCP port (deno task fs)");
        continue;
      }
      ran = true;
      await this.shell.serve(s, line, out, budget, room);
    }
    this.reader.consume(consumed);
    this.saveState(s, out);
    this.print(humanText(out.take()));
    return s.job !== undefined || input.indexOf(NEWLINE, consumed) >= 0;
  }

  /** Prints `text` (cut to the console's room, saying so). */
  private print(text: string): void {
    if (text === "") return;
    const bytes = encoder.encode(text);
    const room = this.ctx.consoleRoom() - 128;
    if (bytes.length + 1 > room) {
      const cut = decoder.decode(bytes.subarray(0, Math.max(0, room - 64)));
      return this.ctx.print(`${cut}\n… (${bytes.length} bytes: cut to the console's room)`);
    }
    this.ctx.print(text);
  }

  /** The session's state in the heap (fresh when none is kept). */
  private loadState(): ShellState {
    const at = this.heap.root(ROOT_CONSOLE);
    if (at === 0) return freshState();
    const n = this.heap.mem.getU32(at);
    return decodeState(decoder.decode(this.heap.mem.read(at + 4, n)));
  }

  /**
   * Saves `s` in the heap; a heap too full for it (a listing's names)
   * drops the job and says so in `out`, keeping the directory.
   */
  private saveState(s: ShellState, out: Reply): void {
    try {
      this.writeState(encoder.encode(encodeState(s)));
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
      out.error("ENOMEM", "the shell's heap is full: the command under way stops");
      this.writeState(encoder.encode(encodeState({ cwd: s.cwd })));
    }
  }

  private writeState(bytes: Uint8Array): void {
    let at = this.heap.root(ROOT_CONSOLE);
    if (at === 0 || this.heap.sizeOf(at) < bytes.length + 4) {
      const next = this.heap.alloc(bytes.length + 4);
      if (at !== 0) this.heap.free(at);
      this.heap.setRoot(ROOT_CONSOLE, at = next);
    }
    this.heap.mem.setU32(at, bytes.length);
    this.heap.mem.write(at + 4, bytes);
  }
}
