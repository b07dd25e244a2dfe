/**
 * Talking to the shell in tests: {@link runLines} runs lines through a
 * Shell in process, step by step as app.ts would; {@link ShellSession} is
 * one TCP session with a booted shell.
 *
 * @module
 */

import { Budget, type Shell } from "../../../servers/apps/shell/commands.ts";
import {
  freshState,
  type ParsedReply,
  Reply,
  ReplyReader,
} from "../../../servers/apps/shell/session.ts";

const encoder = new TextEncoder();

/** Runs `lines` through `shell` in steps (at most 100); every reply, in order. */
export async function runLines(shell: Shell, lines: string[]): Promise<ParsedReply[]> {
  const s = freshState(), out = new Reply(), reader = new ReplyReader();
  let input = encoder.encode(lines.map((l) => l + "\n").join(""));
  const replies: ParsedReply[] = [];
  for (let steps = 0; steps < 100; steps++) {
    const { consumed, more } = await shell.serve(s, input, out, new Budget());
    input = input.subarray(consumed);
    reader.push(out.take());
    for (let r = reader.next("text"); r; r = reader.next("text")) replies.push(r);
    if (!more && s.job === undefined && input.length === 0) break;
  }
  return replies;
}

/** One TCP session with the shell: `ask` sends a line and reads its reply (failing after `ms`). */
export class ShellSession {
  private readonly reader = new ReplyReader();
  private readonly chunks: ReadableStreamDefaultReader<Uint8Array>;
  private constructor(private readonly conn: Deno.TcpConn) {
    this.chunks = conn.readable.getReader();
  }

  static async open(port: number): Promise<ShellSession> {
    return new ShellSession(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(line: string): Promise<void> {
    await this.conn.write(encoder.encode(line + "\n"));
  }

  /** The next reply, within `ms`. */
  async reply(ms = 30_000): Promise<ParsedReply> {
    for (;;) {
      const r = this.reader.next("text");
      if (r) return r;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
      });
      const chunk = await Promise.race([this.chunks.read(), late]).finally(() =>
        clearTimeout(timer)
      );
      if (chunk.done) throw new Error("the connection ended");
      this.reader.push(chunk.value);
    }
  }

  async ask(line: string): Promise<ParsedReply> {
    await this.send(line);
    return await this.reply();
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}
