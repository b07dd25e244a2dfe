/**
 * Invariants 1 and 3 under real crashes: a bounded SIGKILL loop (the full
 * one is `deno task scenario crash`) and images that are corrupt, truncated
 * or not Tardigrade images. Faults in the checkpoint writer (torn, lost and
 * failed writes) are in storage_test.ts. Seeds are printed in the test names; replay with
 * `deno task scenario crash --seed S --iterations N`.
 */

import assert from "node:assert/strict";
import { crashScenario } from "../../tools/crash_scenario.ts";
import { freshSeed } from "../../kernel/abi/prng.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

const crashSeed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;

Deno.test(`crash: 20 seeded SIGKILLs, while running and during resume, lose nothing (seed ${crashSeed})`, async () => {
  const r = await crashScenario(crashSeed, 20, { log: (s) => console.log(`  ${s}`) });
  assert.deepEqual(
    r.violations,
    [],
    `replay: deno task scenario crash --seed ${crashSeed} --iterations 20`,
  );
  assert.equal(r.acknowledgedLost, 0);
  assert.equal(r.crashes, 20);
});

/** Boots a machine on `image` expecting it to refuse; returns its error line. */
async function refused(image: string): Promise<{ code: string; text: string; exit: number }> {
  const m = MachineProcess.start(image, []);
  const status = await m.exited;
  const err = m.lines.find((l) => l.t === "error");
  assert.ok(err && err.t === "error", "the machine printed an error line");
  return { code: err.code, text: err.text, exit: status.code };
}

Deno.test("a file that is not a Tardigrade image is refused with a clear error and left untouched", async () => {
  const image = tempImage();
  try {
    Deno.writeTextFileSync(image, "my thesis, chapter 3\n".repeat(1000));
    const before = Deno.readFileSync(image);
    const r = await refused(image);
    assert.equal(r.code, "E_IMAGE_NOT_TARDIGRADE");
    assert.match(r.text, /--fresh/);
    assert.notEqual(r.exit, 0);
    assert.deepEqual(Deno.readFileSync(image), before, "never overwritten without --fresh");
  } finally {
    removeImage(image);
  }
});

/** A fresh image with a few committed checkpoints. */
async function committedImage(): Promise<string> {
  const image = tempImage();
  const m = MachineProcess.start(image, ["--fresh", "--apps", "counter"]);
  await m.ready();
  await m.waitFor((l) => l.t === "console");
  assert.equal((await m.shutdown()).code, 0);
  return image;
}

Deno.test("a truncated image is refused with E_IMAGE_TRUNCATED and left untouched", async () => {
  const image = await committedImage();
  try {
    const full = Deno.readFileSync(image);
    Deno.writeFileSync(image, full.subarray(0, full.length - 4096 * 10));
    const before = Deno.readFileSync(image);
    const r = await refused(image);
    assert.equal(r.code, "E_IMAGE_TRUNCATED");
    assert.deepEqual(Deno.readFileSync(image), before);
  } finally {
    removeImage(image);
  }
});

Deno.test("a bad checksum in the newest superblock falls back to the previous checkpoint", async () => {
  const image = await committedImage();
  try {
    const bytes = Deno.readFileSync(image);
    const view = new DataView(bytes.buffer);
    const epochAt = (slot: number) => Number(view.getBigUint64(slot * 4096 + 16, true));
    const newest = epochAt(0) > epochAt(1) ? 0 : 1;
    const older = Math.min(epochAt(0), epochAt(1));
    bytes[newest * 4096 + 100] ^= 0xff;
    Deno.writeFileSync(image, bytes);
    const m = MachineProcess.start(image, []);
    const boot = await m.waitFor((l) => l.t === "boot");
    assert.ok(boot.t === "boot" && !boot.fresh);
    assert.equal(boot.epoch, older, "resumed from the older, valid superblock");
    assert.ok(
      m.lines.some((l) => l.t === "log" && /checksum/.test(l.text)),
      "the fallback is reported",
    );
    await m.ready();
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
});

Deno.test("both superblocks corrupt: refused with E_IMAGE_CORRUPT", async () => {
  const image = await committedImage();
  try {
    const bytes = Deno.readFileSync(image);
    bytes[100] ^= 0xff;
    bytes[4096 + 100] ^= 0xff;
    Deno.writeFileSync(image, bytes);
    const r = await refused(image);
    assert.equal(r.code, "E_IMAGE_CORRUPT");
  } finally {
    removeImage(image);
  }
});
