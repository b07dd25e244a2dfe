/**
 * The image seen from outside the machine: one machine per image (a second
 * is refused with E_IMAGE_BUSY, a SIGKILLed one leaves no lock behind), an
 * I/O error while persisting and a corrupt page met by a lazy load are each
 * a named error line from the supervisor and exit 74, never a power failure
 * or an uncaught exception; and a bounded power scenario over every fault
 * kind (the full one is `deno task scenario power`).
 */

import assert from "node:assert/strict";
import { EXIT_IMAGE_ERROR } from "../../hw/board.ts";
import { imageLayout } from "../../hw/nvm_image.ts";
import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { type PowerPoint, powerScenario } from "../../tools/power_scenario.ts";
import { freshSeed } from "../../kernel/abi/prng.ts";
import { removeImage, tempImage } from "../helpers.ts";

const seed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;

/** Resolves once the machine has released the console line "counter N". */
async function counterReaches(m: MachineProcess, n: number): Promise<void> {
  await m.waitFor((l) => l.t === "console" && l.text.split("\n").includes(`counter ${n}`));
}

/** Runs the supervisor (tools/boot.ts) to its end; returns its exit code and stdout. */
async function supervise(args: string[]): Promise<{ code: number; out: string }> {
  const boot = new URL("../../tools/boot.ts", import.meta.url).pathname;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-worker-options", "-A", boot, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) };
}

Deno.test("a second machine on an image in use is refused with E_IMAGE_BUSY and the first is unharmed", async () => {
  const image = tempImage();
  try {
    const first = MachineProcess.start(image, ["--fresh", "--apps", "counter"]);
    await first.ready();
    await counterReaches(first, 2);
    for (const args of [[], ["--fresh"]]) {
      const second = MachineProcess.start(image, args);
      const status = await second.exited;
      const err = second.lines.find((l) => l.t === "error");
      assert.ok(err?.t === "error", `the second machine (${args}) printed an error line`);
      assert.equal(err.code, "E_IMAGE_BUSY", err.text);
      assert.match(err.text, /in use by another machine/);
      assert.equal(status.code, 2);
    }
    await counterReaches(first, 5); // still running, its image whole
    assert.equal((await first.shutdown()).code, 0);
    const again = MachineProcess.start(image, ["--apps", "counter"]);
    const boot = await again.waitFor((l) => l.t === "boot");
    assert.ok(boot.t === "boot" && !boot.fresh && boot.epoch > 0, JSON.stringify(boot));
    await again.ready();
    assert.equal((await again.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
});

Deno.test("the lock of a SIGKILLed machine does not block the resume after it", async () => {
  const image = tempImage();
  try {
    const first = MachineProcess.start(image, ["--fresh", "--apps", "counter"]);
    await first.ready();
    await counterReaches(first, 2);
    await first.kill();
    const next = MachineProcess.start(image, []);
    const boot = await next.waitFor((l) => l.t === "boot");
    assert.ok(boot.t === "boot" && !boot.fresh, JSON.stringify(boot));
    await next.ready();
    assert.equal((await next.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
});

Deno.test("an I/O error while writing a checkpoint is a named error line and exit 74, and the resume finds the previous checkpoint", async () => {
  const image = tempImage();
  try {
    const r = await supervise([
      "--image",
      image,
      "--fresh",
      "--apps",
      "counter",
      "--power-fail",
      "data-eio:0@3",
    ]);
    assert.equal(r.code, EXIT_IMAGE_ERROR, r.out);
    // The first checkpoint from epoch 3 on that writes data pages (one may write none).
    const failed = r.out.match(
      /^error E_IMAGE_IO: checkpoint (\d+): writePages on .* failed: EIO: Input\/output error \(os error 5\)/m,
    );
    assert.ok(failed, r.out);
    const failedEpoch = Number(failed[1]);
    assert.ok(failedEpoch >= 3, `failed at checkpoint ${failedEpoch}`);
    assert.match(r.out, /machine exited with code 74 \(an image error, not a power failure/);
    assert.doesNotMatch(r.out, /power failure during|Uncaught/);
    const m = MachineProcess.start(image, []);
    const boot = await m.waitFor((l) => l.t === "boot");
    assert.ok(boot.t === "boot" && boot.epoch === failedEpoch - 1, JSON.stringify(boot));
    await m.ready();
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    removeImage(image);
  }
});

/** The image byte offset of the newest committed data slot of the page whose data starts with f64 `value`. */
function counterSlotOffset(bytes: Uint8Array, value: number): { page: number; offset: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const epoch = Math.max(Number(v.getBigUint64(16, true)), Number(v.getBigUint64(4096 + 16, true)));
  const pageCount = v.getUint32(12, true);
  const { dataOffset } = imageLayout(pageCount);
  for (let page = KERNEL_PMO_PAGES; page < pageCount; page++) {
    const at = (s: number) => Number(v.getBigUint64(8192 + (2 * page + s) * 16, true));
    const ok = (e: number) => e > 0 && e <= epoch;
    const [e0, e1] = [at(0), at(1)];
    const slot = ok(e1) && (!ok(e0) || e1 > e0) ? 1 : ok(e0) ? 0 : -1;
    if (slot < 0) continue;
    const offset = dataOffset + (2 * page + slot) * 4096;
    if (v.getFloat64(offset, true) === value) return { page, offset };
  }
  throw new Error(`no committed page holds the counter value ${value}`);
}

Deno.test("a corrupt page met by a lazy load after resume is E_IMAGE_CORRUPT from the supervisor and exit 74", async () => {
  const image = tempImage();
  try {
    const m = MachineProcess.start(image, ["--fresh", "--apps", "counter"]);
    await m.ready();
    await counterReaches(m, 3);
    assert.equal((await m.shutdown()).code, 0);
    const last = m.lines.flatMap((l) => l.t === "console" ? l.text.match(/counter \d+/g) ?? [] : [])
      .at(-1)!;
    const bytes = Deno.readFileSync(image);
    const { page, offset } = counterSlotOffset(bytes, Number(last.split(" ")[1]));
    bytes[offset + 100] ^= 0x5a;
    Deno.writeFileSync(image, bytes);
    const r = await supervise(["--image", image, "--apps", "counter"]);
    assert.equal(r.code, EXIT_IMAGE_ERROR, r.out);
    assert.match(
      r.out,
      new RegExp(
        `^error E_IMAGE_CORRUPT: loading pages .*page ${page} slot \\d .*data checksum`,
        "m",
      ),
    );
    assert.doesNotMatch(r.out, /Uncaught|E_INTERNAL/);
  } finally {
    removeImage(image);
  }
});

/** One of each fault at the first write of each kind, and the superblock's two edge cases. */
const POWER_POINTS: PowerPoint[] = [
  { step: "data-torn", index: 0 },
  { step: "data-lost", index: 0 },
  { step: "header-torn", index: 0 },
  { step: "header-lost", index: 0 },
  { step: "header-eio", index: 0 },
  { step: "superblock-lost", index: 0 },
  { step: "superblock-torn", index: 0 },
  { step: "superblock-after", index: 0 },
];

Deno.test(`torn, lost and failed writes in the coalescing writer leave the previous or the new checkpoint (seed ${seed})`, async () => {
  const r = await powerScenario(seed, POWER_POINTS, { log: (s) => console.log(`  ${s}`) });
  assert.deepEqual(r.violations, [], `replay with TARDIGRADE_SEED=${seed}`);
  assert.equal(r.crashes, POWER_POINTS.length);
  assert.equal(r.outcomes?.never ?? 0, 0, "every fault fired");
});
