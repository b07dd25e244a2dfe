/**
 * Drives the switch (hw/switch.ts) from outside: start it as a child
 * process with its own Deno permissions (net on 127.0.0.1 and its link
 * socket, nothing else), read its JSON lines, wait for one, stop it.
 * The supervisor (tools/boot.ts) and the tests share it.
 *
 * @module
 */

import { resolve } from "node:path";
import type { SwitchLine } from "../hw/switch.ts";
import { textLines } from "../hw/text_lines.ts";

/** Deno permissions of the switch: TCP on 127.0.0.1, and the link socket. */
export function switchPermissionFlags(linkPath: string): string[] {
  return [
    `--allow-net=127.0.0.1,unix:${linkPath}`,
    `--allow-read=${linkPath}`,
    `--allow-write=${linkPath}`,
  ];
}

/** A running switch process. */
export class SwitchProcess {
  readonly child: Deno.ChildProcess;
  /** Every line the switch printed, in order. */
  readonly lines: SwitchLine[] = [];
  private readonly listeners: Array<(line: SwitchLine) => void> = [];
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(readonly linkPath: string, flags: string[]) {
    const script = new URL("../hw/switch.ts", import.meta.url).pathname;
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...switchPermissionFlags(linkPath), script, "--link", linkPath, ...flags],
      stdout: "piped",
      stderr: "inherit",
      stdin: "null",
    }).spawn();
    this.exited = this.readLines().then(() => this.child.status);
  }

  /**
   * Starts a switch serving machines on the Unix socket `linkPath` (made
   * absolute: a socket permission names an absolute path); resolves once it
   * listens. `flags`: more of the switch's flags (hw/switch.ts SWITCH_FLAGS),
   * e.g. `["--max-connections", "2"]`.
   */
  static async start(linkPath: string, flags: string[] = []): Promise<SwitchProcess> {
    const s = new SwitchProcess(resolve(linkPath), flags);
    await s.waitFor((l) => l.t === "link-ready");
    return s;
  }

  private async readLines(): Promise<void> {
    for await (const raw of textLines(this.child.stdout)) {
      let line: SwitchLine;
      try {
        line = JSON.parse(raw) as SwitchLine;
      } catch {
        line = { t: "log", text: raw };
      }
      this.lines.push(line);
      for (const l of this.listeners) l(line);
    }
  }

  /** Calls `fn` for every line so far and from now on. */
  onLine(fn: (line: SwitchLine) => void): void {
    for (const l of this.lines) fn(l);
    this.listeners.push(fn);
  }

  /**
   * Resolves with the first line (from index `since`) matching `pred`;
   * rejects if the switch exits first or `timeoutMs` passes.
   */
  waitFor(pred: (l: SwitchLine) => boolean, since = 0, timeoutMs = 30_000): Promise<SwitchLine> {
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (!done) reject(new Error(`switch: no matching line within ${timeoutMs} ms`));
        done = true;
      }, timeoutMs);
      const seen = (l: SwitchLine) => {
        if (!done && pred(l)) {
          done = true;
          clearTimeout(timer);
          resolve(l);
        }
      };
      for (const l of this.lines.slice(since)) seen(l);
      this.listeners.push(seen);
      this.exited.then((s) => {
        clearTimeout(timer);
        if (!done) reject(new Error(`switch exited with code ${s.code} before the awaited line`));
      });
    });
  }

  /** The violations the switch reported (must stay none). */
  violations(): string[] {
    return this.lines.flatMap((l) => l.t === "violation" ? [l.text] : []);
  }

  /** Stops the switch: its clients' connections end. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.exited;
  }
}
