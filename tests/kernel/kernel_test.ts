/**
 * Kernel behaviour through a real machine: rights, revoke, badges, bad input
 * and many concurrent clients (tests/programs/captest.ts, ipcload.ts), and
 * boot → ready → clean shutdown of the whole machine as a child process.
 */

import assert from "node:assert/strict";
import { MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, TASK_RUN_ARGS, tempImage } from "../helpers.ts";

Deno.test("kernel: rights, revoke, badges and bad input give named errors; the system keeps serving", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, ["--fresh", "--apps", "tests/programs/captest.ts"]);
  try {
    const r = JSON.parse(await consoleLine(m, "captest ")) as Record<
      string,
      { ok?: unknown; err?: string }
    >;
    const memoryCap = r.memoryCap.ok as { kind: string; rights: number; badge: number };
    assert.equal(memoryCap.kind, "ENDPOINT");
    assert.equal(memoryCap.rights, 8, "init grants only CALL to the memory server");
    assert.ok(memoryCap.badge > 0, "init badges every client's capability");
    assert.equal(r.badSlotNegative.err, "E_BAD_SLOT");
    assert.equal(r.badSlotHuge.err, "E_BAD_SLOT");
    assert.equal(r.badSlotFraction.err, "E_BAD_SLOT");
    assert.equal(r.badSlotString.err, "E_BAD_SLOT");
    assert.equal(r.emptySlot.err, "E_EMPTY_SLOT");
    assert.equal(r.wrongKind.err, "E_WRONG_KIND");
    assert.equal(r.serveWithoutReceive.err, "E_NO_RIGHTS");
    assert.equal(r.copyWithoutGrant.err, "E_NO_RIGHTS");
    assert.equal(r.unknownSyscall.err, "E_NOT_SUPPORTED");
    assert.equal(r.pmoZeroPages.err, "E_BAD_ARGUMENT");
    assert.equal(r.pmoStringPages.err, "E_BAD_ARGUMENT");
    assert.equal(r.pmoOverQuota.err, "E_NO_MEMORY");
    assert.equal(r.programEscape.err, "E_BAD_ARGUMENT");
    assert.equal(r.grantWithoutWrite.err, "E_NO_RIGHTS");
    assert.equal(r.grantNotAGroup.err, "E_WRONG_KIND");
    assert.deepEqual(
      (r.childInfo.ok as { badge: number }).badge,
      5,
      "a copy keeps its parent's badge",
    );
    assert.equal(r.escalate.err, "E_NO_RIGHTS");
    assert.equal(r.copyFromNoGrant.err, "E_NO_RIGHTS");
    assert.equal(r.rebadge.err, "E_BAD_ARGUMENT");
    assert.equal(r.revokeCount.ok, 3, "revoke removes the child and both grandchildren");
    assert.equal(r.staleAfterRevoke.err, "E_EMPTY_SLOT");
    assert.equal(r.staleGrandchild.err, "E_EMPTY_SLOT");
    assert.equal((r.originalSurvives.ok as { kind: string }).kind, "ENDPOINT");
    assert.equal(
      r.badgeSeen.ok,
      "42",
      "the server sees the badge of the capability the client called through",
    );
    assert.equal(r.oversized.err, "E_MESSAGE_TOO_LARGE");
    assert.equal(r.callAfterRevoke.err, "E_PEER_DIED");
    assert.equal(r.readFile.err, "NotCapable", "a worker has no file access");
    assert.equal(r.env.err, "NotCapable", "a worker has no environment access");
    assert.equal(r.spawn.err, "NotCapable", "a worker cannot start processes");
    assert.equal(r.mapWritableWithoutWrite.err, "E_NO_RIGHTS");
    assert.equal(r.writeReadOnly.err, "E_NO_RIGHTS");
    assert.equal(r.memoryStatus.ok, "memory");
    assert.equal(r.memoryUnknownLabel.err, "E_NOT_SUPPORTED");
    const status = await m.shutdown();
    assert.equal(status.code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("kernel: IPC under many concurrent clients loses and mixes up nothing", async () => {
  const image = tempImage();
  const apps = Array(3).fill("tests/programs/ipcload.ts").join(",");
  const m = MachineProcess.start(image, ["--fresh", "--apps", apps]);
  try {
    const results: Array<{ ok: number; mismatches: number; errors: number; expected: number }> = [];
    m.onLine((l) => {
      if (l.t !== "console") return;
      for (const line of l.text.split("\n")) {
        if (line.startsWith("ipcload ")) results.push(JSON.parse(line.slice("ipcload ".length)));
      }
    });
    await m.waitFor(() => results.length === 3, 60_000);
    for (const r of results) {
      assert.equal(r.mismatches, 0);
      assert.equal(r.errors, 0);
      assert.equal(r.ok, r.expected);
    }
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

Deno.test("boot: deno task boot --run-for boots to ready, shuts down cleanly and exits 0", async () => {
  const image = tempImage();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        ...TASK_RUN_ARGS,
        new URL("../../tools/boot.ts", import.meta.url).pathname,
        "--image",
        image,
        "--fresh",
        "--run-for",
        "0.5",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const diagnostics = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text + diagnostics);
    assert.match(text, /ready: fresh system/);
    for (const stage of ["board: image formatted", "kernel: root task started"]) {
      assert.ok(text.includes(stage), `boot log names the stage "${stage}"`);
    }
    // ctx.log lines leave at once (no commit covers them): diagnostics, apart from guest output.
    for (const server of ["memory", "fs", "net"]) {
      const line = new RegExp(`^\\[log\\]  init#\\d+: init: ${server} server up`, "m");
      assert.match(diagnostics, line, `stderr names init's log line "${server} server up"`);
      assert.doesNotMatch(text, new RegExp(`${server} server up`), "never among stdout's output");
    }
    assert.match(text, /halted cleanly at checkpoint epoch \d+/);
  } finally {
    removeImage(image);
  }
});

Deno.test("boot: the smallest image the benchmarks use (16 MiB) holds the kernel and every server", async () => {
  const image = tempImage();
  try {
    const m = MachineProcess.start(image, ["--fresh", "--image-mb", "16"]);
    await m.ready();
    assert.deepEqual(
      m.lines.filter((l) => l.t === "error" || (l.t === "log" && /failed/.test(l.text))),
      [],
    );
    assert.equal((await m.shutdown()).code, 0);
    const resumed = MachineProcess.start(image);
    const ready = await resumed.ready();
    assert.equal(ready.resumed, true);
    assert.equal((await resumed.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
});
