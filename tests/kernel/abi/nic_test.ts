/**
 * The NIC's transmit ring (kernel/abi/nic.ts) on its own: the writer keeps
 * START on a frame boundary as the ring wraps, so a re-send from
 * `resendFrom` reads whole frames; and it refuses a frame that would
 * overwrite frames not yet released.
 */

import assert from "node:assert/strict";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import {
  consoleHead,
  newConsoleRegister,
  readConsole,
  resendFrom,
  setConsoleReleased,
} from "../../../kernel/abi/console.ts";
import { encodeFrame, FrameReader, FrameType } from "../../../kernel/abi/net_link.ts";
import { NIC_TX_RING_BYTES, NicTxWriter } from "../../../kernel/abi/nic.ts";
import { allocatePmoBuffers } from "../../../kernel/abi/pmem.ts";

function txRing() {
  const bufs = allocatePmoBuffers(1, 1 + NIC_TX_RING_BYTES / PAGE_BYTES);
  const register = newConsoleRegister(0);
  return { bufs, register, writer: new NicTxWriter(bufs, register) };
}

Deno.test("nic tx ring: after wrapping three times a re-send from resendFrom is whole frames, in order, up to HEAD", () => {
  const { bufs, register, writer } = txRing();
  let off = 0;
  for (let i = 0; consoleHead(bufs) < 3 * NIC_TX_RING_BYTES; i++) {
    // Frames of odd sizes, so frame boundaries and the ring's end never line up.
    const data = new TextEncoder().encode(`frame ${i} `.padEnd(100 + (i * 37) % 900, "z"));
    assert.ok(writer.write(encodeFrame(FrameType.DATA, 7, off, data)), `frame ${i} fits`);
    off += data.length;
    setConsoleReleased(register, consoleHead(bufs)); // the board sends each at once
  }
  const from = resendFrom(bufs);
  assert.ok(consoleHead(bufs) - from <= NIC_TX_RING_BYTES, "the re-send is within one ring");
  const frames = new FrameReader().push(readConsole(bufs, from, consoleHead(bufs)));
  assert.ok(frames.length > 10, `${frames.length} frames read back`);
  for (let i = 1; i < frames.length; i++) {
    assert.equal(
      frames[i].off,
      frames[i - 1].off + frames[i - 1].data.length,
      `frame ${i} follows`,
    );
  }
  const last = frames[frames.length - 1];
  assert.equal(last.off + last.data.length, off, "the last frame ends at the stream's end");
});

Deno.test("nic tx ring: a frame that would overwrite unreleased frames is refused and writes nothing", () => {
  const { bufs, writer } = txRing();
  const data = new Uint8Array(30_000);
  assert.ok(writer.write(encodeFrame(FrameType.DATA, 7, 0, data)));
  assert.ok(writer.write(encodeFrame(FrameType.DATA, 7, 30_000, data)));
  const head = consoleHead(bufs);
  assert.equal(writer.write(encodeFrame(FrameType.DATA, 7, 60_000, data)), false);
  assert.equal(consoleHead(bufs), head, "HEAD unchanged");
});
