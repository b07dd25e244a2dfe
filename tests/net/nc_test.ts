/**
 * The "done when", as a user runs it: `deno task boot --fresh
 * --apps echo --restart-on-crash` (the supervisor, which starts the switch
 * because echo needs the network), a real `nc` connected to the echo port,
 * and `kill -9` of the machine process the supervisor names: the `nc`
 * session stays open and goes on echoing after the resume.
 */

import assert from "node:assert/strict";
import { textLines } from "../../hw/text_lines.ts";
import { freePort } from "../../tools/echo_client.ts";
import { removeImage, requireCommand, tempImage } from "../helpers.ts";

/** Lines of a child's stdout, as they come; `next(pred)` resolves with the first match. */
class LineWatch {
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

Deno.test("boot --apps echo --restart-on-crash: an nc session stays open across kill -9 of the machine", async () => {
  await requireCommand("nc", "netcat-openbsd");
  const image = tempImage("nc");
  const port = freePort();
  const boot = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "boot",
      "--image",
      image,
      "--fresh",
      "--apps",
      "echo",
      "--echo-port",
      String(port),
      "--restart-on-crash",
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const out = new LineWatch(boot.stdout);
  let nc: Deno.ChildProcess | undefined;
  try {
    const pidOf = (l: string) => Number(/machine process (\d+)/.exec(l)![1]);
    const first = pidOf(await out.next((l) => l.includes("[boot] machine process")));
    await out.next((l) => l.includes(`[net]  listening on 127.0.0.1:${port}`));
    nc = new Deno.Command("nc", {
      args: ["-N", "127.0.0.1", String(port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const replies = new LineWatch(nc.stdout);
    const stdin = nc.stdin.getWriter();
    const say = (text: string) => stdin.write(new TextEncoder().encode(text + "\n"));
    await say("hello");
    assert.equal(await replies.next(() => true), "1 hello");

    Deno.kill(first, "SIGKILL");
    const second = pidOf(await out.next((l) => l.includes("[boot] machine process")));
    assert.notEqual(second, first);
    await out.next((l) => l.includes("[boot] ready: resumed"));
    await say("still here");
    assert.equal(await replies.next(() => true), "2 still here");

    // The user ends the session: every reply, then the app's close ends nc.
    await stdin.close();
    const status = await nc.status;
    nc = undefined;
    assert.equal(status.code, 0, "nc ended cleanly: the connection was never reset");
  } finally {
    if (nc) {
      try {
        nc.kill("SIGKILL");
      } catch { /* gone */ }
      await nc.status;
    }
    boot.kill("SIGTERM");
    await boot.status;
    removeImage(image);
  }
});
