/**
 * Watching a child process's output line by line, for the tests that run
 * the supervisor or a client program as a user would (nc_test.ts,
 * redis_cli_test.ts).
 *
 * @module
 */

import { textLines } from "../../hw/text_lines.ts";

/** Lines of a child's stdout, as they come; `next(pred)` resolves with the first match. */
export class LineWatch {
  private readonly seen: string[] = [];
  private readonly waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> =
    [];
  private from = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      for await (const line of textLines(stream)) {
        this.seen.push(line);
        for (const w of [...this.waiters]) {
          if (w.pred(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    })();
  }

  /** The first line after the last match that satisfies `pred`. */
  next(pred: (l: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const i = this.seen.slice(this.from).findIndex(pred);
    if (i >= 0) {
      this.from += i + 1;
      return Promise.resolve(this.seen[this.from - 1]);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line within ${timeoutMs} ms; saw:\n${this.seen.join("\n")}`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          this.from = this.seen.length;
          resolve(l);
        },
      });
    });
  }
}
