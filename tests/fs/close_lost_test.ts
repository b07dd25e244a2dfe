/**
 * A connection closed for good whose `closed` event the FS server may
 * never have handled before a crash (tests/programs/fsclose.ts): the
 * client opens and unlinks /held on a second connection; after a SIGKILL
 * and a resume it closes that connection while the server is dormant
 * (the first `closed` event is lost: the wake starts the worker after
 * the post), the machine is SIGKILLed again at a seeded delay after the
 * close is released, and after the second resume the inode /held kept
 * must be free: the kernel told the server again as it served.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freshSeed, Prng } from "../../kernel/abi/prng.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, tempImage } from "../helpers.ts";

const PROGRAM = "tests/programs/fsclose.ts";
const seed = Number(Deno.env.get("TARDIGRADE_SEED") ?? freshSeed()) >>> 0;

Deno.test(`fs server: a close lost to a crash is told again at resume; the descriptors go (seed ${seed})`, async () => {
  const image = tempImage();
  const delayMs = new Prng(seed).int(0, 40);
  console.log(`seed ${seed}: SIGKILL ${delayMs} ms after the close is released`);
  let m = MachineProcess.start(image, ["--fresh", "--apps", PROGRAM]);
  try {
    await m.ready();
    const held = Number(await consoleLine(m, "fsclose held "));
    await m.kill();
    m = MachineProcess.start(image, []);
    await consoleLine(m, "fsclose closed");
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    await m.kill();
    m = MachineProcess.start(image, []);
    assert.equal((await m.ready()).resumed, true);
    const inodes = Number(await consoleLine(m, "fsclose inodes "));
    assert.equal(inodes, held - 1, "the inode the closed connection's descriptor held is free");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});
