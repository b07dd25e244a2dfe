/**
 * The console input device's ring (kernel/abi/console_in.ts): lines in
 * order across the ring's end, TAIL moved only by the reader, a full ring
 * refusing without writing, numbered lines taken once, and the line codec's
 * limits.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import {
  CONSOLE_IN_PAGES,
  consoleInLines,
  ConsoleInReader,
  ConsoleInWriter,
  encodeConsoleLine,
} from "../../../kernel/abi/console_in.ts";
import {
  CONSOLE_INPUT_LINE_BYTES_MAX,
  CONSOLE_INPUT_RING_BYTES,
} from "../../../kernel/abi/limits.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../../kernel/abi/pmem.ts";

const decoder = new TextDecoder();

function device() {
  const pmo = allocatePmoBuffers(1, CONSOLE_IN_PAGES);
  return {
    pmo,
    writer: new ConsoleInWriter(pmo),
    reader: new ConsoleInReader(new PersistentMemory(pmo)),
  };
}

Deno.test("console input: lines come out whole and in order, across the ring's end, until consumed", () => {
  const { writer, reader } = device();
  const line = "x".repeat(1000);
  let sent = 0, got = 0;
  // Several turns of the ring: each round writes three lines and consumes them.
  for (let round = 0; round < 3 * CONSOLE_INPUT_RING_BYTES / 3000; round++) {
    for (let i = 0; i < 3; i++) {
      assert.equal(writer.write(encodeConsoleLine(`${sent++} ${line}`)), "taken");
    }
    const text = decoder.decode(reader.pending());
    assert.equal(decoder.decode(reader.pending()), text, "pending reads again until consumed");
    for (const l of text.split("\n").slice(0, -1)) {
      assert.equal(l, `${got++} ${line}`);
    }
    reader.consume(new TextEncoder().encode(text).length);
    assert.equal(reader.pending().length, 0);
  }
  assert.equal(got, sent);
});

Deno.test("console input: a full ring refuses a line and writes nothing of it", () => {
  const { writer, reader } = device();
  const line = encodeConsoleLine("y".repeat(CONSOLE_INPUT_LINE_BYTES_MAX));
  let taken = 0;
  // Bounded: a ring that never says full fails here instead of looping.
  while (taken < 100 && writer.write(line) === "taken") taken++;
  assert.equal(taken, Math.floor(CONSOLE_INPUT_RING_BYTES / line.length));
  const before = reader.pending().length;
  assert.equal(writer.write(line), "full");
  assert.equal(reader.pending().length, before, "nothing of the refused line");
  reader.consume(line.length);
  assert.equal(writer.write(line), "taken", "room again once the reader consumed a line");
});

Deno.test("console input: numbered lines are taken once; LINES is one past the highest taken", () => {
  const { pmo, writer, reader } = device();
  assert.equal(writer.write(encodeConsoleLine("a"), 0), "taken");
  assert.equal(writer.write(encodeConsoleLine("b"), 1), "taken");
  assert.equal(writer.write(encodeConsoleLine("a"), 0), "duplicate");
  assert.equal(writer.write(encodeConsoleLine("b"), 1), "duplicate");
  assert.equal(consoleInLines(pmo), 2);
  assert.equal(writer.write(encodeConsoleLine("e"), 4), "taken", "a gap (a refused line) is taken");
  assert.equal(consoleInLines(pmo), 5);
  assert.equal(writer.write(encodeConsoleLine("d"), 3), "duplicate");
  assert.equal(decoder.decode(reader.pending()), "a\nb\ne\n");
});

Deno.test("console input: a line is one line of at most CONSOLE_INPUT_LINE_BYTES_MAX bytes", () => {
  assert.deepEqual(encodeConsoleLine("ls /\r\n"), new TextEncoder().encode("ls /\n"));
  assert.equal(encodeConsoleLine("é".repeat(CONSOLE_INPUT_LINE_BYTES_MAX / 2)).length, 1025);
  assert.throws(
    () => encodeConsoleLine("é".repeat(CONSOLE_INPUT_LINE_BYTES_MAX / 2 + 1)),
    /at most/,
  );
  assert.throws(() => encodeConsoleLine("ls\nrm -r /"), /one line/);
});
