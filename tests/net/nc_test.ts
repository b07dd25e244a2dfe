/**
 * The "done when", as a user runs it: `deno task boot --fresh
 * --apps echo --restart-on-crash` (the supervisor, which starts the switch
 * because echo needs the network), a real `nc` connected to the echo port,
 * and `kill -9` of the machine process the supervisor names: the `nc`
 * session stays open and goes on echoing after the resume.
 */

import assert from "node:assert/strict";
import { requireCommand } from "../helpers.ts";
import { LineWatch } from "./line_watch.ts";
import { UserBoot } from "./user_boot.ts";

Deno.test("boot --apps echo --restart-on-crash: an nc session stays open across kill -9 of the machine", async () => {
  await requireCommand("nc", "netcat-openbsd");
  const booted = await UserBoot.start("echo");
  const port = booted.port;
  let nc: Deno.ChildProcess | undefined;
  try {
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

    await booted.killMachine();
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
    await booted.stop();
  }
});
