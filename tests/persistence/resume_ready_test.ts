/**
 * Every resume reaches `ready`. init's worker is created by the board before
 * the kernel and can reach its first safe point before the kernel's resume
 * has finished; its `ready` must still be announced (it once was lost, and
 * the machine checkpointed on without ever printing `ready`).
 *
 * RESUMES resumes of an image with no apps, each after a clean shutdown;
 * each must print `ready` within READY_BOUND_MS. The bound is a liveness
 * check (a hang detector), not a timing assertion: a resume takes about
 * 100 ms, several seconds on a loaded machine; 20 s means it never will.
 */

import assert from "node:assert/strict";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

const RESUMES = 25;
const READY_BOUND_MS = 20_000;

Deno.test(`${RESUMES} resumes in a row each reach ready (no apps, 64 MiB)`, async () => {
  const image = tempImage();
  try {
    const first = MachineProcess.start(image, ["--fresh", "--image-mb", "64"]);
    await first.ready(READY_BOUND_MS);
    assert.equal((await first.shutdown()).code, 0);
    for (let i = 1; i <= RESUMES; i++) {
      const m = MachineProcess.start(image);
      try {
        const ready = await m.ready(READY_BOUND_MS);
        assert.equal(ready.resumed, true, `resume ${i} resumed`);
      } catch (e) {
        await m.kill();
        const tail = m.lines.slice(-12).map((l) => `  ${JSON.stringify(l).slice(0, 200)}`);
        throw new Error(
          `resume ${i} of ${RESUMES} did not reach ready within ${READY_BOUND_MS} ms: ` +
            `${(e as Error).message}\n${tail.join("\n")}`,
        );
      }
      assert.equal((await m.shutdown()).code, 0, `resume ${i} shut down cleanly`);
    }
  } finally {
    removeImage(image);
  }
});
