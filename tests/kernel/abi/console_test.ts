/**
 * The console ring (kernel/abi/console.ts) on its own: 64-bit offsets
 * that never wrap, and text read from inside a multi-byte character.
 */

import assert from "node:assert/strict";
import { CONSOLE_RING_BYTES, PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import {
  consoleHead,
  ConsoleWriter,
  newConsoleRegister,
  readConsoleText,
  setConsoleReleased,
  setConsoleStart,
} from "../../../kernel/abi/console.ts";
import { allocatePmoBuffers } from "../../../kernel/abi/pmem.ts";

/** A console ring starting at byte offset `start`, with its register. */
function ring(start: number) {
  const bufs = allocatePmoBuffers(1, 1 + CONSOLE_RING_BYTES / PAGE_BYTES);
  setConsoleStart(bufs, start);
  return { bufs, register: newConsoleRegister(start) };
}

for (const boundary of [2 ** 31, 2 ** 32]) {
  Deno.test(`console offsets cross ${boundary} and the text across it reads back intact`, () => {
    const start = boundary - 3 * CONSOLE_RING_BYTES / 2;
    const { bufs, register } = ring(start);
    const writer = new ConsoleWriter(bufs, register);
    let released = start;
    let all = "";
    for (let i = 0; all.length < 4 * CONSOLE_RING_BYTES; i++) {
      const line = `line ${i} ${"y".repeat(900)}\n`;
      assert.ok(writer.write(line), `line ${i} fits`);
      all += line;
      const head = consoleHead(bufs);
      assert.equal(head, start + all.length, `HEAD after line ${i}`);
      // The board's side: release what was written every few lines.
      if (i % 7 === 6) {
        const { off, text } = readConsoleText(bufs, released, head);
        assert.equal(off, released);
        assert.equal(text, all.slice(released - start));
        setConsoleReleased(register, head);
        released = head;
      }
    }
    assert.ok(consoleHead(bufs) > boundary + CONSOLE_RING_BYTES, "went well past the boundary");
    assert.equal(writer.dropped, 0);
  });
}

Deno.test("text read from inside a multi-byte character starts at the next whole character", () => {
  const start = 2 ** 32 - 5;
  const { bufs, register } = ring(start);
  const writer = new ConsoleWriter(bufs, register);
  writer.write("aé→😀b\n"); // bytes: a(1) é(2) →(3) 😀(4) b(1) \n(1)
  const head = consoleHead(bufs);
  assert.equal(head, start + 12);
  assert.deepEqual(readConsoleText(bufs, start + 2, head), { off: start + 3, text: "→😀b\n" });
  assert.deepEqual(readConsoleText(bufs, start + 7, head), { off: start + 10, text: "b\n" });
  assert.deepEqual(readConsoleText(bufs, start + 6, head), { off: start + 6, text: "😀b\n" });
});
