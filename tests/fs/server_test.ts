/**
 * The FS server on a real machine, driven by tests/programs/fsops.ts over
 * IPC: every operation, a 1 MiB write and read back through the bulk
 * buffer, another connection's descriptors (EBADF), a connection closed
 * for good (its descriptors closed), bad input answered by name while
 * another client is served, `sync` returning after a commit; the server's
 * faults contained (restarted with its tree and open descriptors, its
 * clients going on); a client's restart keeping its descriptors; a resume
 * after SIGKILL keeping the tree; a client
 * over its quota getting ENOSPC alone.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import type { FaultKind } from "../../kernel/abi/protocol.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, tempImage } from "../helpers.ts";

const PROGRAM = "tests/programs/fsops.ts";

type Outcome = { ok: unknown } | { err: string };
const ok = (v: unknown = null): Outcome => ({ ok: v });
const err = (code: string): Outcome => ({ err: code });

/** Compares each expected outcome, reporting every mismatch at once. */
function expectAll(got: Record<string, Outcome>, want: Record<string, Outcome>): void {
  const wrong: string[] = [];
  for (const [key, w] of Object.entries(want)) {
    if (JSON.stringify(got[key]) !== JSON.stringify(w)) {
      wrong.push(`${key}: got ${JSON.stringify(got[key])}, want ${JSON.stringify(w)}`);
    }
  }
  assert.deepEqual(wrong, [], `mismatches:\n${wrong.join("\n")}`);
}

const served = { ok: "dir" };

Deno.test("fs server: every operation over IPC, 1 MiB through the buffer, foreign and closed descriptors, bad input, sync", async () => {
  const image = tempImage();
  // 8 MiB of data: the 1 MiB file and the rest (the default is 16).
  const m = MachineProcess.start(image, ["--fresh", "--fs-mb", "8", "--apps", PROGRAM]);
  try {
    await m.ready();
    const r = JSON.parse(await consoleLine(m, "fsops ")) as Record<string, Outcome>;
    expectAll(r, {
      mkdir: ok(),
      open: ok(0),
      write: ok(5),
      seek: ok(0),
      read: ok("hello"),
      pwrite: ok(6),
      pread: ok("hello world"),
      fstat: ok(11),
      ftruncate: ok(5),
      truncate: ok(3),
      fsync: ok(),
      link: ok(2),
      symlink: ok(),
      readlink: ok("/d/f"),
      lstat: ok("symlink"),
      statFollows: ok("file"),
      readdir: ok(["f", "g", "s"]),
      chmod: ok(0o600),
      utimes: ok([1000, 2000]),
      rename: ok(true),
      unlink: ok(),
      unlinkAgain: err("ENOENT"),
      rmdirNotEmpty: err("ENOTEMPTY"),
      space: ok(true),
      close: ok(),
      closeAgain: err("EBADF"),
      mkdirRmdir: ok(err("ENOENT")),
      longPath: ok([1206, "deep"]),
      pathTooLong: err("ENAMETOOLONG"),
      bigWrite: ok(1 << 20),
      bigRead: ok(true),
      bigStat: ok(1 << 20),
      foreignFstat: err("EBADF"),
      foreignRead: err("EBADF"),
      foreignClose: err("EBADF"),
      ownStillOpen: ok("mine"),
      closedConnectionFreed: ok(1),
      malformedOpen: err("E_BAD_MESSAGE"),
      malformedText: err("E_BAD_MESSAGE"),
      trailingBytes: err("E_BAD_MESSAGE"),
      fdMinusOne: err("EBADF"),
      fdHuge: err("EBADF"),
      fdFraction: err("EBADF"),
      fdNaN: err("EBADF"),
      writeReadOnly: err("EBADF"),
      pwriteReadOnly: err("EBADF"),
      pwriteHugeOffset: err("EFBIG"),
      pwriteNegative: err("EINVAL"),
      ftruncateHuge: err("EFBIG"),
      bufferPastEnd: err("EINVAL"),
      inlineTooLong: err("EINVAL"),
      inlineLengthWrong: err("E_BAD_MESSAGE"),
      indirectTooLong: err("EINVAL"),
      unknownLabel: err("E_NOT_SUPPORTED"),
      nul: err("EINVAL"),
      relative: err("EINVAL"),
      nameTooLong: err("ENAMETOOLONG"),
      dotDotAboveRoot: ok(4),
      otherServed: ok([served, served, served, served]),
      syncAfterCommit: ok(true),
    });
    console.log(`figures: ${await consoleLine(m, "fsops-figures ")}`);
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

/** The `fsops alive N TEXT` lines seen from `since` on. */
function alive(m: MachineProcess, since = 0): Array<{ n: number; text: string; epoch: number }> {
  const out: Array<{ n: number; text: string; epoch: number }> = [];
  for (const l of m.lines.slice(since)) {
    if (l.t !== "console") continue;
    for (const x of l.text.matchAll(/^fsops alive (\d+) (.*)$/gm)) {
      out.push({ n: Number(x[1]), text: x[2], epoch: l.epoch });
    }
  }
  return out;
}

const isLog = (l: MachineLine, re: RegExp) => l.t === "log" && re.test(l.text);

/** Errors the keeping client saw but E_PEER_DIED (a call its server's death cut short). */
function keepErrors(m: MachineProcess): string[] {
  const out: string[] = [];
  for (const l of m.lines) {
    if (l.t !== "console") continue;
    for (const x of l.text.matchAll(/^fsops keep-error (\S+)$/gm)) {
      if (x[1] !== "E_PEER_DIED") out.push(x[1]);
    }
  }
  return out;
}

/** Waits until `done`, or fails at once when the keeping client saw another error. */
async function untilAlive(m: MachineProcess, done: () => boolean, since = 0): Promise<void> {
  await m.waitFor(() => done() || keepErrors(m).length > 0, 60_000, since);
  assert.deepEqual(keepErrors(m), [], "the kept descriptor and file were there after the fault");
}

for (const fault of ["throw", "exit"] as FaultKind[]) {
  Deno.test(`fs server: a fault (${fault}) is contained; it comes back with its tree and open descriptors, its client goes on`, async () => {
    const image = tempImage();
    const m = MachineProcess.start(image, [
      "--fresh",
      "--fault-injection",
      ...(fault === "exit" ? ["--handler-budget-ms", "250"] : []),
      "--apps",
      `${PROGRAM}?mode=keep&timerMs=20`,
    ]);
    try {
      await m.ready();
      await consoleLine(m, "fsops kept ");
      await untilAlive(m, () => alive(m).length >= 2);
      const since = m.lines.length;
      await m.inject("fs", fault, 1);
      const restart = await m.waitFor(
        (l) => isLog(l, /^kernel: thread \d+ \(servers\/fs\/main\.ts\) ready in/),
        60_000,
        since,
      );
      assert.ok(restart);
      const back = m.lines.length;
      // Reads through the descriptor opened before the fault, served by the new worker.
      await untilAlive(m, () => alive(m, back).length >= 3, back);
      for (const a of alive(m)) assert.equal(a.text, "kept across faults 2018");
      const opened = m.lines.slice(since).filter((l) => isLog(l, /fs: opened \d+ data pages/));
      assert.equal(opened.length, 1, "the restarted server opened the tree it had (not formatted)");
      assert.equal((await m.shutdown()).code, 0);
    } finally {
      await m.kill();
      removeImage(image);
    }
  });
}

Deno.test("fs server: a client that restarts keeps its descriptors (its connection closes only for the restart)", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fault-injection",
    "--apps",
    `${PROGRAM}?mode=keep&timerMs=20`,
  ]);
  try {
    await m.ready();
    await untilAlive(m, () => alive(m).length >= 2);
    const since = m.lines.length;
    await m.inject("fsops", "throw", 1);
    await m.waitFor(
      (l) => isLog(l, /^kernel: thread \d+ \(tests\/programs\/fsops\.ts\) ready in/),
      60_000,
      since,
    );
    const back = m.lines.length;
    await untilAlive(m, () => alive(m, back).length >= 3, back);
    const closed = m.lines.slice(since).filter((l) => isLog(l, /descriptors closed/));
    assert.deepEqual(closed, [], "the server closed nothing for a restart");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("fs server: a resume after SIGKILL keeps the tree and the descriptors", async () => {
  const image = tempImage();
  let m = MachineProcess.start(image, ["--fresh", "--apps", `${PROGRAM}?mode=keep&timerMs=20`]);
  try {
    await m.ready();
    await m.waitFor(() => alive(m).length >= 2);
    const before = Math.max(...alive(m).map((a) => a.n));
    await m.kill();
    m = MachineProcess.start(image, []);
    assert.equal((await m.ready()).resumed, true);
    await untilAlive(m, () => alive(m).some((a) => a.n > before + 1));
    for (const a of alive(m)) assert.equal(a.text, "kept across faults 2018");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("fs server: a client over its quota gets ENOSPC; another client writes its own quota meanwhile", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--fs-client-blocks",
    "8",
    "--apps",
    `${PROGRAM}?mode=quota,${PROGRAM}?mode=quota&wait=1`,
  ]);
  try {
    await m.ready();
    const lines: string[] = [];
    await m.waitFor((l) => {
      if (l.t === "console") {
        lines.push(...l.text.split("\n").filter((s) => s.startsWith("fsops quota")));
      }
      return lines.length >= 2;
    });
    const results = lines.map((s) => s.split(" ").slice(3).join(" ")).sort();
    assert.deepEqual(results, ["8 ENOSPC", "8 ENOSPC"], lines.join("\n"));
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});
