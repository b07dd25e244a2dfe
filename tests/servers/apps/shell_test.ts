/**
 * The shell (servers/apps/shell/): its framing (session.ts) and its
 * commands (commands.ts) over an FsApi on a host directory, driven step by
 * step as the app drives them, the session's state written and read back
 * between steps as a crash would make the app do; and the app over the
 * network: `nc` on `deno task boot --apps shell --restart-on-crash`, its
 * session (the current directory) and files kept across a kill -9 of the
 * machine; a pipelined script of 1,000 operations on one connection.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import {
  Budget,
  Shell,
  STEP_BYTES_MAX,
  STEP_CALLS_MAX,
} from "../../../servers/apps/shell/commands.ts";
import {
  decodeState,
  encodeState,
  freshState,
  LINE_BYTES_MAX,
  type ParsedReply,
  Reply,
  ReplyReader,
  type ShellState,
  splitWords,
} from "../../../servers/apps/shell/session.ts";
import { AppMachine } from "../../../tools/app_machine.ts";
import { exchange, scriptRequests } from "../../../tools/fs.ts";
import { requireCommand } from "../../helpers.ts";
import { LineWatch } from "../../net/line_watch.ts";
import { UserBoot } from "../../net/user_boot.ts";
import { HostDirFs } from "./_host_fs.ts";

const encoder = new TextEncoder();

/** What a run of requests gave: the replies' bytes, the state, the steps and each step's calls. */
interface Ran {
  bytes: Uint8Array;
  state: ShellState;
  steps: number;
  callsPerStep: number[];
}

/**
 * Serves `inputs` (each arriving after the last was consumed) as the app
 * does: steps until no work is left, the state through its text between
 * steps.
 */
async function drive(
  fs: HostDirFs,
  inputs: Array<string | Uint8Array>,
  state = freshState(),
): Promise<Ran> {
  const shell = new Shell(fs), out = new Reply();
  let text = encodeState(state), steps = 0, pending: Uint8Array = new Uint8Array(0);
  const callsPerStep: number[] = [];
  for (const chunk of inputs) {
    const b = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    const joined = new Uint8Array(pending.length + b.length);
    joined.set(pending);
    joined.set(b, pending.length);
    pending = joined;
    for (;;) {
      const s = decodeState(text), before = fs.calls;
      const { consumed, more } = await shell.serve(s, pending, out, new Budget());
      callsPerStep.push(fs.calls - before);
      steps++;
      pending = pending.slice(consumed);
      text = encodeState(s);
      if (!more) break;
    }
  }
  return { bytes: out.take(), state: decodeState(text), steps, callsPerStep };
}

/** The replies in `bytes`, read as a client reads them (`get` where `kinds` says). */
function replies(bytes: Uint8Array, kinds: Array<"text" | "get">): ParsedReply[] {
  const r = new ReplyReader();
  r.push(bytes);
  const out: ParsedReply[] = [];
  for (const k of kinds) {
    const next = r.next(k);
    assert.ok(next, `reply ${out.length + 1} of ${kinds.length} is whole`);
    out.push(next);
  }
  assert.equal(r.next("text"), undefined, "no more replies than requests");
  return out;
}

/** Runs `lines` (text commands only) on a fresh tree in `fn`'s directory; returns the replies. */
async function withTree(fn: (fs: HostDirFs) => Promise<void>): Promise<void> {
  const fs = new HostDirFs(Deno.makeTempDirSync({ prefix: "tardigrade-shell-" }));
  try {
    await fn(fs);
  } finally {
    fs.dispose();
  }
}

async function run(fs: HostDirFs, lines: string[], state?: ShellState): Promise<ParsedReply[]> {
  const ran = await drive(fs, [lines.map((l) => l + "\n").join("")], state);
  return replies(ran.bytes, lines.map((l) => l.startsWith("get ") ? "get" : "text"));
}

Deno.test("splitWords: spaces split, quotes and backslashes keep", () => {
  assert.deepEqual(splitWords(`ls  -l\t/a`), ["ls", "-l", "/a"]);
  assert.deepEqual(splitWords(`write 'a b' "c \\"d\\"" e\\ f`), ["write", "a b", 'c "d"', "e f"]);
  assert.deepEqual(splitWords(`x 'it'\\''s'`), ["x", "it's"]);
  assert.throws(() => splitWords(`cat 'open`), /unclosed '/);
});

Deno.test("data lines that read as a status line come back unchanged (stuffed on the wire)", async () => {
  await withTree(async (fs) => {
    const text = "ok\nerror ENOENT: not really\n\\back\nplain";
    Deno.writeTextFileSync(`${fs.root}/f`, text);
    const [r] = await run(fs, ["cat /f"]);
    assert.ok(r.ok);
    assert.deepEqual(r.lines, ["ok", "error ENOENT: not really", "\\back", "plain"]);
  });
});

Deno.test("put then get of binary data round-trips byte for byte, the payload in pieces over many steps", async () => {
  await withTree(async (fs) => {
    const data = new Uint8Array(3 * STEP_BYTES_MAX + 4321);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 8)) & 0xff;
    data.set(encoder.encode("\nok\nerror x\n"), 100); // framing bytes inside the payload
    const head = encoder.encode(`put /bin.dat ${data.length}\n`);
    const pieces: Uint8Array[] = [head];
    for (let at = 0; at < data.length; at += 100_000) pieces.push(data.subarray(at, at + 100_000));
    pieces.push(encoder.encode("get /bin.dat\nget /bin.dat\n"));
    const ran = await drive(fs, pieces);
    assert.ok(ran.steps > 4, `the transfer took ${ran.steps} steps`);
    const [put, get1, get2] = replies(ran.bytes, ["text", "get", "get"]);
    assert.ok(put.ok, JSON.stringify(put));
    assert.deepEqual(Deno.readFileSync(`${fs.root}/bin.dat`), data);
    assert.ok(get1.ok && get2.ok);
    assert.deepEqual(get1.body, data);
    assert.deepEqual(get2.body, data);
  });
});

Deno.test("put of 0 bytes makes an empty file; put with a bad length is a usage error and sends nothing on", async () => {
  await withTree(async (fs) => {
    const [empty, bad, after] = await run(fs, ["put /e 0", "put /x -1", "pwd"]);
    assert.ok(empty.ok);
    assert.equal(Deno.statSync(`${fs.root}/e`).size, 0);
    assert.equal(bad.errno, "EINVAL");
    assert.match(bad.message!, /usage: put PATH LENGTH/);
    assert.deepEqual(after.lines, ["/"]);
  });
});

Deno.test("put to a path that cannot be made swallows its payload, then answers the error", async () => {
  await withTree(async (fs) => {
    const ran = await drive(fs, [`put /no/such/f 5\nhello`, "pwd\n"]);
    const [put, pwd] = replies(ran.bytes, ["text", "text"]);
    assert.equal(put.errno, "ENOENT");
    assert.deepEqual(pwd.lines, ["/"]);
  });
});

Deno.test("ls, ls -l, stat and tree show the tree", async () => {
  await withTree(async (fs) => {
    const [mk, w1, w2, ln, ls, lsl, st, tree] = await run(fs, [
      "mkdir -p d/e",
      "write d/f hello world",
      "write top x",
      "ln -s d/f link",
      "ls",
      "ls -l d",
      "stat d/f",
      "tree",
    ]);
    for (const r of [mk, w1, w2, ln]) assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(ls.lines, ["d", "link", "top"]);
    assert.equal(lsl.lines.length, 2);
    assert.match(lsl.lines[0], /^drwxr-xr-x +\d+ +\d+ \d{4}-\d\d-\d\d \d\d:\d\d e$/);
    assert.match(lsl.lines[1], /^-rw-r--r-- +1 +12 \d{4}-\d\d-\d\d \d\d:\d\d f$/);
    assert.equal(st.lines[0], "file: /d/f");
    assert.deepEqual(st.lines.slice(1, 3), ["kind: file", "size: 12"]);
    assert.equal(st.lines[5], "links: 1");
    assert.equal(st.lines[6], "mode: 0644 (-rw-r--r--)");
    assert.deepEqual(tree.lines, [
      "/",
      "├── d",
      "│   ├── e",
      "│   └── f",
      "├── link -> d/f",
      "└── top",
      "2 directories, 3 files",
    ]);
  });
});

Deno.test("cd changes the session's directory, relative paths start there, and it is kept in the state", async () => {
  await withTree(async (fs) => {
    const ran = await drive(fs, [
      "mkdir -p /a/b\ncd a/b\npwd\nwrite f x\ncd ..\nls\ncd /nope\npwd\n",
    ]);
    const [, cd, pwd, , , ls, bad, pwd2] = replies(ran.bytes, Array(8).fill("text"));
    assert.ok(cd.ok);
    assert.deepEqual(pwd.lines, ["/a/b"]);
    assert.deepEqual(ls.lines, ["b"]);
    assert.equal(bad.errno, "ENOENT");
    assert.deepEqual(pwd2.lines, ["/a"]);
    assert.equal(ran.state.cwd, "/a");
    assert.equal(Deno.readTextFileSync(`${fs.root}/a/b/f`), "x\n");
  });
});

Deno.test("mkdir -p a/b/c, then rm -r a removes it all; mv and rmdir", async () => {
  await withTree(async (fs) => {
    const rs = await run(fs, [
      "mkdir -p a/b/c",
      "mkdir -p a/b/c",
      "write a/b/c/f 1",
      "write a/g 2",
      "rm -r a",
      "ls",
      "mkdir m",
      "write x 3",
      "mv x m",
      "ls m",
      "rmdir m",
      "rm m/x",
      "rmdir m",
    ]);
    assert.ok(rs.slice(0, 5).every((r) => r.ok), JSON.stringify(rs.slice(0, 5)));
    assert.deepEqual(rs[5].lines, []);
    assert.deepEqual(rs[9].lines, ["x"]);
    assert.equal(rs[10].errno, "ENOTEMPTY");
    assert.ok(rs[11].ok && rs[12].ok);
    assert.deepEqual([...Deno.readDirSync(fs.root)], []);
  });
});

Deno.test("rm -r and tree of thousands of names run in bounded steps", async () => {
  await withTree(async (fs) => {
    for (let d = 0; d < 4; d++) {
      Deno.mkdirSync(`${fs.root}/big/d${d}`, { recursive: true });
      for (let i = 0; i < 600; i++) Deno.writeTextFileSync(`${fs.root}/big/d${d}/f${i}`, "");
    }
    const tree = await drive(fs, ["tree big\n"]);
    const [t] = replies(tree.bytes, ["text"]);
    assert.equal(t.lines.at(-1), "4 directories, 2400 files");
    assert.equal(t.lines.length, 1 + 4 + 2400 + 1);
    assert.ok(tree.steps >= 4, `tree took ${tree.steps} steps`);
    const rm = await drive(fs, ["rm -r big\n"]);
    assert.ok(replies(rm.bytes, ["text"])[0].ok);
    assert.ok(rm.steps >= 4, `rm -r took ${rm.steps} steps`);
    for (const calls of [...tree.callsPerStep, ...rm.callsPerStep]) {
      assert.ok(calls <= STEP_CALLS_MAX + 8, `a step made ${calls} calls`);
    }
    assert.deepEqual([...Deno.readDirSync(fs.root)], []);
  });
});

Deno.test("errors carry the POSIX name; bad usage and unknown commands get a one-line usage", async () => {
  await withTree(async (fs) => {
    Deno.mkdirSync(`${fs.root}/d`);
    const rs = await run(fs, [
      "cat /missing",
      "rm d",
      "mkdir d",
      "mkdir",
      "frobnicate x",
      "ls -z",
      "cat d",
      "get d",
    ]);
    assert.deepEqual(rs.map((r) => r.errno), [
      "ENOENT",
      "EISDIR",
      "EEXIST",
      "EINVAL",
      "EINVAL",
      "EINVAL",
      "EISDIR",
      "EISDIR",
    ]);
    assert.equal(rs[3].message, "usage: mkdir [-p] PATH");
    assert.match(rs[4].message!, /unknown command frobnicate; help lists/);
    assert.equal(rs[5].message, "usage: ls [-l] [PATH]");
    assert.match(rs[0].message!, /\/missing/);
    assert.doesNotMatch(
      rs[0].message!,
      /^E/,
      "no codes before the message: the status line names it",
    );
  });
});

Deno.test("an overlong line is refused whole and the next request is served", async () => {
  await withTree(async (fs) => {
    const long = "write /f " + "x".repeat(LINE_BYTES_MAX + 10);
    const ran = await drive(fs, [long.slice(0, 40_000), long.slice(40_000) + "\npwd\n"]);
    const [r, pwd] = replies(ran.bytes, ["text", "text"]);
    assert.equal(r.errno, "EINVAL");
    assert.match(r.message!, /line longer than/);
    assert.deepEqual(pwd.lines, ["/"]);
  });
});

Deno.test("sync waits first thing in a step of its own, once the step before has saved what came before it", async () => {
  await withTree(async (fs) => {
    const starts: number[] = [];
    const shell = new Shell(fs), out = new Reply();
    let text = encodeState(freshState()),
      pending = encoder.encode(
        "mkdir /d\nwrite /d/a x\nsync\ncat /d/a\nsync\nsync\nwrite /d/b y\n",
      );
    for (;;) {
      starts.push(fs.calls);
      const s = decodeState(text);
      const { consumed, more } = await shell.serve(s, pending, out, new Budget());
      pending = pending.slice(consumed);
      text = encodeState(s);
      if (!more) break;
    }
    assert.equal(fs.syncs.length, 3, "every sync waited");
    for (const at of fs.syncs) assert.ok(starts.includes(at), `sync at call ${at}: a step's first`);
    const got = replies(out.take(), Array(7).fill("text"));
    assert.deepEqual(got.map((r) => r.ok), Array(7).fill(true));
    assert.deepEqual(got[3].lines, ["x"]);
    const waiting = decodeState(encodeState({ cwd: "/", job: { k: "sync" } }));
    const r = await shell.serve(waiting, new Uint8Array(0), out, new Budget(10, 10, false));
    assert.equal(fs.syncs.length, 3, "a step that may not wait (main) does not");
    assert.deepEqual(r, { consumed: 0, more: true }, "and leaves the sync to the next step");
  });
});

Deno.test("help lists every command", async () => {
  await withTree(async (fs) => {
    const [h] = await run(fs, ["help"]);
    assert.ok(h.ok);
    for (
      const c of ["ls [-l] [PATH]", "put PATH LENGTH", "get PATH", "tree [PATH]", "df", "sync"]
    ) {
      assert.ok(h.lines.some((l) => l.startsWith(c)), c);
    }
  });
});

/** `nc` on `port`: say a line, read the reply's lines through its status line. */
function ncSession(port: number) {
  const nc = new Deno.Command("nc", {
    args: ["-N", "127.0.0.1", String(port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = new LineWatch(nc.stdout);
  const stdin = nc.stdin.getWriter();
  return {
    nc,
    stdin,
    /** Sends `line`; resolves with the reply's data lines and its status line. */
    async ask(line: string): Promise<string[]> {
      await stdin.write(encoder.encode(line + "\n"));
      const out: string[] = [];
      for (;;) {
        const l = await lines.next(() => true);
        out.push(l);
        if (l === "ok" || l.startsWith("error ")) return out;
      }
    },
  };
}

/** The session's checks around `crash` (SIGKILL of the machine and its resume). */
async function cwdAcrossCrash(port: number, crash: () => Promise<void>): Promise<void> {
  const s = ncSession(port);
  try {
    assert.deepEqual(await s.ask("mkdir -p /home/user"), ["ok"]);
    assert.deepEqual(await s.ask("cd /home/user"), ["ok"]);
    assert.deepEqual(await s.ask("write notes kept"), ["ok"]);
    await crash();
    assert.deepEqual(await s.ask("pwd"), ["/home/user", "ok"], "the session kept its directory");
    assert.deepEqual(await s.ask("cat notes"), ["kept", "ok"], "the file is there");
    await s.stdin.close();
    const status = await s.nc.status;
    assert.equal(status.code, 0, "nc ended cleanly: the connection was never reset");
  } finally {
    try {
      s.nc.kill("SIGKILL");
    } catch { /* ended */ }
    await s.nc.status;
  }
}

Deno.test("boot --apps shell --restart-on-crash: an nc session keeps its directory and files across kill -9", async () => {
  await requireCommand("nc", "netcat-openbsd");
  const booted = await UserBoot.start("shell");
  try {
    await cwdAcrossCrash(booted.port, () => booted.killMachine());
  } finally {
    await booted.stop();
  }
});

Deno.test("shell over the network: a script of 1,000 operations pipelined on one connection, every reply in order", async () => {
  const m = await AppMachine.start("shell", { label: "shell-script" });
  try {
    const ops: string[] = ["mkdir -p /s", "cd /s"];
    for (let i = 0; ops.length < 1000; i++) {
      ops.push(`write f${i} line ${i}`, `cat f${i}`, `mv f${i} g${i}`);
    }
    ops.length = 999;
    ops.push("ls /s");
    let out = "", err = "";
    const io = {
      out: (t: string) => out += t,
      err: (t: string) => err += t,
      lines: async function* () {
        yield* ops;
      },
    };
    const t0 = performance.now();
    // A stall (work left that no step picks up) fails the test instead of hanging it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`replies stalled; got:\n${out.slice(-500)}`)),
        60_000,
      );
    });
    const failed = await Promise.race([exchange(m.port, scriptRequests(io, () => {}), io), stalled])
      .finally(() => clearTimeout(timer));
    const ms = performance.now() - t0;
    console.log(
      `1,000 pipelined operations: ${ms.toFixed(0)} ms, ${(1000 / ms * 1000).toFixed(0)}/s`,
    );
    assert.equal(failed, 0, err);
    const lines = out.split("\n");
    assert.equal(
      lines.filter((l) => /^line \d+$/.test(l)).length,
      332,
      "every cat answered its own line",
    );
    assert.ok(lines.indexOf("line 7") < lines.indexOf("line 8"), "replies in request order");
    assert.equal(lines.filter((l) => /^g\d+$/.test(l)).length, 332, "ls /s shows every moved file");
  } finally {
    await m.stop();
  }
});

Deno.test("shell over the network: a client that ends in the middle of a put's payload is closed, its replies sent", async () => {
  const m = await AppMachine.start("shell", { label: "shell-eof" });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
    await conn.write(encoder.encode("pwd\nput /x 100\nabc"));
    await conn.closeWrite();
    // A connection left open fails the test instead of hanging it.
    const timer = setTimeout(() => conn.close(), 30_000);
    const got = await new Response(conn.readable).text().finally(() => clearTimeout(timer));
    assert.equal(got, "/\nok\n");
  } finally {
    await m.stop();
  }
});

Deno.test("shell over the network: sync after writes answers, six times in a row, the writes there", async () => {
  const m = await AppMachine.start("shell", { label: "shell-sync" });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
    const ops: string[] = ["mkdir -p /d"];
    for (let i = 0; i < 6; i++) ops.push(`write /d/f${i} kept ${i}`, `write /d/g${i} too`, "sync");
    ops.push("cat /d/f5");
    await conn.write(encoder.encode(ops.map((o) => o + "\n").join("")));
    await conn.closeWrite();
    // A sync that never answers fails the test instead of hanging it.
    let got = "";
    const timer = setTimeout(() => conn.close(), 30_000);
    try {
      for await (const chunk of conn.readable) got += new TextDecoder().decode(chunk);
    } catch (e) {
      throw new Error(`no answer within 30 s (${e}); got:\n${got}`);
    } finally {
      clearTimeout(timer);
    }
    const lines = got.split("\n").filter((l) => l !== "");
    assert.equal(
      lines.filter((l) => l === "ok").length,
      ops.length,
      `every request answered:\n${got}`,
    );
    assert.deepEqual(lines.slice(-2), ["kept 5", "ok"], got);
  } finally {
    await m.stop();
  }
});

/** Reads `conn` line by line; each read fails after `ms` instead of hanging. */
function lineReader(conn: Deno.TcpConn, ms: number): () => Promise<string> {
  const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async () => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        return line;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no line within ${ms} ms; got ${buf}`)), ms);
      });
      const r = await Promise.race([reader.read(), late]).finally(() => clearTimeout(timer));
      if (r.done) throw new Error(`the connection ended; got ${buf}`);
      buf += r.value;
    }
  };
}

Deno.test("shell over the network: a kill -9 right after a sync, and the resumed shell answers it, the write there", async () => {
  const m = await AppMachine.start("shell", { label: "shell-sync-crash" });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
  // A reply that never comes (a resumed shell waiting in `main` for a sync) fails the read.
  const line = lineReader(conn, 30_000);
  const say = (text: string) => conn.write(encoder.encode(text + "\n"));
  try {
    await say("mkdir -p /k");
    assert.equal(await line(), "ok");
    for (let i = 0; i < 4; i++) {
      await say(`write /k/f${i} kept ${i}`);
      assert.equal(await line(), "ok");
      // Killed as the sync is under way: the committed state may hold it as the session's job.
      await say("sync");
      await m.crash();
      await m.resume();
      assert.equal(await line(), "ok", `sync ${i} answered after the resume`);
    }
    await say("cat /k/f3");
    assert.deepEqual([await line(), await line()], ["kept 3", "ok"]);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await m.stop();
  }
});
