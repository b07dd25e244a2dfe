/**
 * The shell's console session on a booted machine: keyboard lines sent to
 * the console input device (tools/console_feed.ts over the command port)
 * are answered on the shell's console; seeded SIGKILLs while lines are
 * typed leave every line applied exactly once (the console's echoes and
 * the tree read over TCP say so); and `deno task boot` with its stdin
 * piped prints the answers.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import type { MachineLine } from "../../../hw/board.ts";
import { freshSeed, Prng } from "../../../kernel/abi/prng.ts";
import { ReplyReader } from "../../../servers/apps/shell/session.ts";
import { AppMachine } from "../../../tools/app_machine.ts";
import { ConsoleFeed } from "../../../tools/console_feed.ts";
import { freePort } from "../../../tools/echo_client.ts";
import { ConsoleView, type MachineProcess } from "../../../tools/machine_process.ts";
import { removeImage, tempImage } from "../../helpers.ts";
import { userBootArgs } from "../../net/user_boot.ts";

const encoder = new TextEncoder();

/** The shell's console as a person sees it, across the machines that run it. */
class ShellConsole {
  private readonly view = new ConsoleView();
  text = "";

  /** Watches machine `m` (each one started on the image). */
  attach(m: MachineProcess): void {
    m.onLine((l: MachineLine) => {
      if (l.t === "console" && l.name === "shell") this.text += this.view.accept(l);
    });
  }

  /** Re-sent text that differs from what was shown, and text never shown: both must stay 0. */
  get anomalies(): number {
    return this.view.rollbacksSeen + this.view.bytesMissed;
  }

  /** Resolves once the text holds `wanted`; fails with what it holds after `ms`. */
  async waitFor(wanted: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!this.text.includes(wanted)) {
      if (Date.now() > end) {
        throw new Error(`console never showed ${wanted}; it shows:\n${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** One request over TCP to the shell on `port`: its data lines (throws on an error reply). */
async function overTcp(port: number, line: string): Promise<string[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(line + "\n"));
    const reader = new ReplyReader(), buf = new Uint8Array(64 * 1024);
    for (;;) {
      const reply = reader.next("text");
      if (reply) {
        assert.ok(reply.ok, `${line}: ${reply.errno} ${reply.message}`);
        return reply.lines;
      }
      const n = await conn.read(buf);
      if (n === null) throw new Error(`${line}: the connection ended before the reply`);
      reader.push(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** A shell machine with the command port open, a feed and a console watch on it. */
async function shellMachine(label: string) {
  const m = await AppMachine.start("shell", { label, extra: ["--commands"] });
  const feed = new ConsoleFeed(), screen = new ShellConsole();
  feed.attach(m.machine);
  screen.attach(m.machine);
  return { m, feed, screen };
}

Deno.test("console session: typed lines are answered on the shell's console, the tree says the same over TCP", async () => {
  const { m, feed, screen } = await shellMachine("console-answers");
  try {
    for (
      const line of [
        "mkdir /a",
        "ls /",
        "cd /a",
        "pwd",
        "write f hello there",
        "cat f",
        "cat /nope",
        "put x 3",
      ]
    ) feed.type(line);
    await screen.waitFor("/a $ put x 3\nerror EINVAL");
    assert.ok(
      screen.text.startsWith(
        "/ $ mkdir /a\n/ $ ls /\na\n/ $ cd /a\n/a $ pwd\n/a\n/a $ write f hello there\n" +
          "/a $ cat f\nhello there\n/a $ cat /nope\nerror ENOENT: ",
      ),
      screen.text,
    );
    assert.deepEqual(await overTcp(m.port, "ls /"), ["a"]);
    assert.deepEqual(await overTcp(m.port, "cat /a/f"), ["hello there"]);
    // Round trips, one line at a time: typed, run, committed, shown (a figure, not a check).
    // After the transcript is checked, since these lines add to it.
    const trips: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      feed.type(`mkdir /r${i}`);
      await screen.waitFor(`/a $ mkdir /r${i}\n`);
      trips.push(performance.now() - t0);
    }
    trips.sort((a, b) => a - b);
    console.log(
      `console round trip (line typed → answer shown), 20 lines: median ${
        trips[10].toFixed(1)
      } ms, max ${trips[19].toFixed(1)} ms`,
    );
    assert.equal(screen.anomalies, 0);
  } finally {
    await m.stop();
  }
});

const seed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;
/** Lines typed in all, and machine kills among them. */
const LINES = 60, KILLS = 3;

Deno.test(`console session: ${KILLS} seeded SIGKILLs while lines are typed, every line applied exactly once (seed ${seed})`, async () => {
  console.log(`seed ${seed} (replay: TARDIGRADE_SEED=${seed})`);
  const prng = new Prng(seed);
  const { m, feed, screen } = await shellMachine("console-crash");
  try {
    const killAt = new Set<number>();
    while (killAt.size < KILLS) killAt.add(prng.int(5, LINES - 5));
    let resumed: Promise<void> = Promise.resolve();
    for (let i = 1; i <= LINES; i++) {
      feed.type(`mkdir /d${i}`);
      await new Promise((r) => setTimeout(r, prng.int(0, 15)));
      if (!killAt.has(i)) continue;
      // Typing goes on while the machine is down and powering on: those lines wait in the feed.
      await resumed;
      await m.crash();
      resumed = m.resume().then(() => {
        feed.attach(m.machine);
        screen.attach(m.machine);
      });
    }
    await resumed;
    await screen.waitFor(`/ $ mkdir /d${LINES}\n`);
    for (let i = 1; i <= LINES; i++) {
      const echoes = screen.text.split("\n").filter((l) => l === `/ $ mkdir /d${i}`).length;
      assert.equal(echoes, 1, `mkdir /d${i} answered ${echoes} times (seed ${seed})`);
    }
    assert.doesNotMatch(
      screen.text,
      /error/,
      `a line applied twice fails with EEXIST (seed ${seed})`,
    );
    const names = (await overTcp(m.port, "ls /")).sort();
    const wanted = Array.from({ length: LINES }, (_, i) => `d${i + 1}`).sort();
    assert.deepEqual(names, wanted, `the tree holds each line's directory once (seed ${seed})`);
    assert.equal(screen.anomalies, 0, "no rollback and no gap seen on the console");
  } finally {
    await m.stop();
  }
});

Deno.test("console session: a fault in the shell under system-rollback; the lines since the last commit are sent again, each run once", async () => {
  const m = await AppMachine.start("shell", {
    label: "console-rollback",
    extra: ["--fault-injection", "--policy", "shell=system-rollback"],
  });
  const feed = new ConsoleFeed(), screen = new ShellConsole();
  feed.attach(m.machine);
  screen.attach(m.machine);
  try {
    const lines = 30;
    for (let i = 1; i <= lines; i++) {
      feed.type(`mkdir /r${i}`);
      if (i === 15) await m.machine.inject("shell", "throw", 7);
      await new Promise((r) => setTimeout(r, 5));
    }
    await m.machine.waitFor((l) => l.t === "log" && /system rollback/.test(l.text));
    await screen.waitFor(`/ $ mkdir /r${lines}\n`);
    for (let i = 1; i <= lines; i++) {
      const echoes = screen.text.split("\n").filter((l) => l === `/ $ mkdir /r${i}`).length;
      assert.equal(echoes, 1, `mkdir /r${i} answered ${echoes} times`);
    }
    assert.doesNotMatch(screen.text, /error/);
    assert.equal((await overTcp(m.port, "ls /")).length, lines);
    assert.equal(screen.anomalies, 0);
  } finally {
    await m.stop();
  }
});

Deno.test("deno task boot --apps shell with stdin piped: each line's answer on stdout", async () => {
  const image = tempImage("console-piped");
  try {
    const boot = new Deno.Command(Deno.execPath(), {
      args: userBootArgs(image, "shell", freePort(), ["--run-for", "3"]),
      cwd: new URL("../../../", import.meta.url).pathname,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = boot.stdin.getWriter();
    await writer.write(encoder.encode("mkdir /a\nls /\ncd /a\npwd\n"));
    await writer.close();
    const { code, stdout } = await boot.output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, out);
    assert.ok(
      out.includes(
        "shell| / $ mkdir /a\nshell| / $ ls /\nshell| a\nshell| / $ cd /a\n" +
          "shell| /a $ pwd\nshell| /a\n",
      ),
      out,
    );
  } finally {
    removeImage(image);
  }
});
