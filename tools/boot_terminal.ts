/**
 * The supervisor's terminal (tools/boot.ts): where the lines it reads come
 * from and where the machine's lines go, so that both share one screen.
 *
 * When stdin and stdout are a terminal ({@link BootTerminal.open} with `edit`), lines
 * are read with line editing (node:readline: a `> ` prompt, the arrow keys,
 * history); a line printed while the user types is written above the
 * prompt, which is drawn again with what was typed so far. Ctrl-C shuts
 * the machine down as SIGINT does; Ctrl-D too (the end of the input).
 * Otherwise lines are read plain (a pipe, a file: `printf 'help\n' | deno
 * task boot ...`) and printed as they come.
 *
 * @module
 */

import * as readline from "node:readline";
import process from "node:process";
import { textLines } from "../hw/text_lines.ts";

const encoder = new TextEncoder();

/** The prompt of the line editor. */
export const PROMPT = "> ";

/** Lines in, machine lines out (see the module doc). */
export class BootTerminal {
  /** False once the editor closed (Ctrl-D, or {@link close}): lines are written plain from then on. */
  private editing: boolean;

  private constructor(private readonly editor: readline.Interface | undefined) {
    this.editing = editor !== undefined;
  }

  /**
   * `edit`: read with line editing (stdin is a terminal); `onEnd` runs on
   * Ctrl-C and Ctrl-D there (the supervisor shuts down).
   */
  static open(edit: boolean, onEnd: () => void): BootTerminal {
    if (!edit) return new BootTerminal(undefined);
    const editor = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      prompt: PROMPT,
      terminal: true,
      historySize: 1000,
    });
    const terminal = new BootTerminal(editor);
    editor.on("SIGINT", onEnd);
    editor.on("close", () => {
      terminal.editing = false;
      onEnd();
    });
    return terminal;
  }

  /** The lines typed or piped, without their newlines, until the input ends. */
  async *lines(): AsyncGenerator<string> {
    if (!this.editor) {
      yield* textLines(Deno.stdin.readable);
      return;
    }
    this.editor.prompt();
    for await (const line of this.editor) {
      yield line;
      if (this.editing) this.editor.prompt();
    }
  }

  /** Writes `text` to stdout (or stderr with `toStderr`), above the prompt when editing. */
  write(text: string, toStderr = false): void {
    const stream = toStderr ? Deno.stderr : Deno.stdout;
    if (!this.editor || !this.editing) {
      stream.writeSync(encoder.encode(text));
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    stream.writeSync(encoder.encode(text));
    this.editor.prompt(true);
  }

  /** Stops reading (the supervisor is exiting); the terminal is left as it was. */
  close(): void {
    this.editing = false;
    this.editor?.removeAllListeners("close");
    this.editor?.close();
  }
}
