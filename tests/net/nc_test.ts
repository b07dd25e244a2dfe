/**
 * The "done when", as a user runs it: `deno task boot --fresh
 * --apps echo --restart-on-crash` (the supervisor, which starts the switch
 * because echo needs the network), a real `nc` connected to the echo port,
 * and `kill -9` of the machine process the supervisor names: the `nc`
 * session stays open and goes on echoing after the resume.
 */

import assert from "node:assert/strict";
import { freePort } from "../../tools/echo_client.ts";
import { removeImage, requireCommand, tempImage } from "../helpers.ts";
import { LineWatch } from "./line_watch.ts";

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
