/**
 * Invariant 2, resume is exact: the digest of every page and every kernel
 * object taken inside the last checkpoint's pause equals the digest of the
 * state restored from the image, before any worker runs.
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

type Digest = Extract<MachineLine, { t: "digest" }>;
const isDigest = (l: MachineLine): l is Digest => l.t === "digest";

for (const method of ["stop-and-copy", "cow", "hybrid"]) {
  Deno.test(`resume (${method}): the restored state's digest equals the last commit's`, async () => {
    const image = tempImage();
    try {
      const first = MachineProcess.start(image, [
        "--fresh",
        "--apps",
        "counter,writer",
        "--digest",
        "--copy-method",
        method,
      ]);
      await first.ready();
      await first.waitFor((l) => l.t === "console" && l.text.includes("counter 20"));
      assert.equal((await first.shutdown()).code, 0);
      const commits = first.lines.filter(isDigest).filter((d) => d.when === "commit");
      const last = commits[commits.length - 1];
      assert.ok(last, "the final checkpoint reported a digest");

      const second = MachineProcess.start(image, ["--digest", "--copy-method", method]);
      const restored = await second.waitFor(isDigest);
      assert.equal(restored.when, "resume");
      assert.equal(restored.epoch, last.epoch);
      assert.equal(
        restored.digest,
        last.digest,
        `state at epoch ${last.epoch} was restored exactly`,
      );
      await second.ready();
      assert.equal((await second.shutdown()).code, 0);
    } finally {
      removeImage(image);
    }
  });
}

Deno.test("resume is lazy: servers nobody calls stay dormant until called", async () => {
  const image = tempImage();
  // Any line naming a server's program (its start, its wake-up, its own log) means it ran.
  const server = (l: MachineLine) => l.t === "log" && /servers\/(memory|fs|net)\//.test(l.text);
  try {
    const first = MachineProcess.start(image, ["--fresh"]);
    await first.ready();
    assert.ok(first.lines.some(server), "a fresh boot starts the servers (and says so)");
    assert.equal((await first.shutdown()).code, 0);
    const second = MachineProcess.start(image);
    await second.ready();
    // Through a clean shutdown, final checkpoint included, nobody calls them.
    assert.equal((await second.shutdown()).code, 0);
    assert.deepEqual(second.lines.filter(server), [], "memory, fs and net did not run");
  } finally {
    removeImage(image);
  }
});

Deno.test("after a resume a program whose console ring has wrapped prints on without a gap", async () => {
  const image = tempImage();
  const view = new ConsoleView();
  const numbers: number[] = [];
  const watch = (m: MachineProcess) =>
    m.onLine((l) => {
      if (l.t !== "console" || l.name !== "chatty") return;
      for (const x of view.accept(l).matchAll(/^chatty (\d+) /gm)) numbers.push(Number(x[1]));
    });
  try {
    const first = MachineProcess.start(image, [
      "--fresh",
      "--apps",
      "tests/programs/chatty.ts?timerMs=5",
    ]);
    watch(first);
    // 100 lines of ~1 KiB: more than the 64 KiB ring.
    await first.waitFor(() => numbers.length >= 100);
    assert.equal((await first.shutdown()).code, 0);
    const seen = numbers.length;
    const second = MachineProcess.start(image);
    watch(second);
    await second.waitFor(() => numbers.length >= seen + 20);
    assert.equal((await second.shutdown()).code, 0);
    numbers.forEach((n, i) => assert.equal(n, i + 1, `line ${i + 1} reads chatty ${n}`));
    assert.equal(view.rollbacksSeen, 0);
  } finally {
    removeImage(image);
  }
});
