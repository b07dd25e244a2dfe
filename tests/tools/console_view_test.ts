/**
 * The outside observer of console output (tools/machine_process.ts
 * `ConsoleView`): it deduplicates re-sent text by UTF-8 byte offset, copes
 * with a re-send starting inside a character, and counts a re-sent byte
 * that differs (a rollback) and bytes it never got.
 */

import assert from "node:assert/strict";
import { ConsoleView } from "../../tools/machine_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A console frame of thread 1. */
const frame = (off: number, text: string) => ({
  t: "console" as const,
  thread: 1,
  name: "app",
  off,
  text,
  epoch: 1,
});

/** What a machine decoding bytes [from, …) of `text` would send (U+FFFD for each stray byte). */
function resend(text: string, from: number): ReturnType<typeof frame> {
  return frame(from, decoder.decode(encoder.encode(text).subarray(from)));
}

Deno.test("ConsoleView counts UTF-8 bytes, not UTF-16 units", () => {
  const view = new ConsoleView();
  const first = "é→😀 one\n";
  assert.equal(view.accept(frame(0, first)), first);
  const at = encoder.encode(first).length;
  assert.equal(view.accept(frame(at, "two\n")), "two\n");
  // A re-send of both frames shows nothing new; one longer shows only the new end.
  assert.equal(view.accept(frame(0, first + "two\n")), "");
  assert.equal(view.accept(frame(0, first + "two\nthree ✓\n")), "three ✓\n");
  assert.equal(view.text.get(1), first + "two\nthree ✓\n");
  assert.equal(view.rollbacksSeen, 0);
  assert.equal(view.bytesMissed, 0);
});

Deno.test("ConsoleView copes with a re-send that starts inside a multi-byte character", () => {
  const seen = "aé→😀b\n"; // a(1) é(2) →(3) 😀(4) b(1) \n(1): 12 bytes
  for (const from of [2, 4, 5, 7, 8, 9]) {
    const view = new ConsoleView();
    view.accept(frame(0, seen));
    const again = resend(seen + "next ✓\n", from);
    assert.ok(again.text.startsWith("\uFFFD"), `a re-send from byte ${from} starts mid-character`);
    assert.equal(view.accept(again), "next ✓\n", `re-send from byte ${from}`);
    assert.equal(view.text.get(1), seen + "next ✓\n");
    assert.equal(view.rollbacksSeen, 0, `re-send from byte ${from}: no rollback seen`);
    assert.equal(view.bytesMissed, 0);
  }
});

Deno.test("ConsoleView counts a re-sent byte that differs as a rollback, and a gap as missed", () => {
  const view = new ConsoleView();
  view.accept(frame(0, "counter 1\ncounter 2\n"));
  assert.equal(view.accept(frame(10, "counter 9\ncounter 3\n")), "counter 3\n");
  assert.equal(view.rollbacksSeen, 1);
  assert.equal(view.accept(frame(35, "counter 5\n")), "counter 5\n");
  assert.equal(view.bytesMissed, 5);
});
