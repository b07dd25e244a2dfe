/**
 * The echo app's line numbering (servers/apps/echo_lines.ts): replies per
 * line, numbered per connection; partial lines kept until their newline or
 * the EOF; long lines cut into pieces.
 */

import assert from "node:assert/strict";
import {
  ECHO_LINE_BYTES_MAX,
  type LineState,
  numberLines,
} from "../../../servers/apps/echo_lines.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const fresh = (): LineState => ({ partial: new Uint8Array(0), next: 1 });

/** Feeds `chunks` one after another, the last with EOF when `eof`; the replies joined. */
function feed(chunks: string[], eof = false): { out: string; state: LineState } {
  let state = fresh();
  let out = "";
  chunks.forEach((c, i) => {
    const r = numberLines(state, text(c), eof && i === chunks.length - 1);
    out += str(r.replies);
    state = { partial: r.partial, next: r.next };
  });
  return { out, state };
}

Deno.test("echo lines: each line is replied with its number, counting from 1", () => {
  assert.equal(feed(["one\ntwo\n\nthree\n"]).out, "1 one\n2 two\n3 \n4 three\n");
});

Deno.test("echo lines: a partial line waits for its newline across receives", () => {
  const { out, state } = feed(["hel", "lo\nwor", "ld"]);
  assert.equal(out, "1 hello\n");
  assert.deepEqual([str(state.partial), state.next], ["world", 2]);
  assert.equal(feed(["hel", "lo\nwor", "ld\n"]).out, "1 hello\n2 world\n");
});

Deno.test("echo lines: at EOF the partial line is replied too", () => {
  assert.equal(feed(["a\nb"], true).out, "1 a\n2 b\n");
  assert.equal(feed(["a\n", ""], true).out, "1 a\n", "no empty reply for nothing left");
});

Deno.test("echo lines: a line over 1 KiB is cut into 1 KiB pieces, each a reply", () => {
  const long = "x".repeat(ECHO_LINE_BYTES_MAX * 2 + 5);
  const { out } = feed([long.slice(0, 700), long.slice(700) + "\nend\n"]);
  const piece = "x".repeat(ECHO_LINE_BYTES_MAX);
  assert.equal(out, `1 ${piece}\n2 ${piece}\n3 xxxxx\n4 end\n`);
  const exact = feed([piece + "\n"]).out;
  assert.equal(exact, `1 ${piece}\n`, "a line of exactly 1 KiB is one reply");
});
