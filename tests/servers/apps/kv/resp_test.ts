/**
 * RESP2 parsing (servers/apps/kv/resp.ts) as Redis 7.0 does it: every
 * protocol error gives the text a real redis-server sends before it
 * closes the connection (checked over a raw socket against one started
 * here), inline commands split with quotes and escapes as sdssplitargs
 * does, and a pipelined buffer cut at every byte gives the same commands
 * with `needBytes` never asking for more than the command still lacks.
 *
 * Run: `deno test --allow-all tests/servers/apps/kv/resp_test.ts`.
 */

import assert from "node:assert/strict";
import { OutputWriter, parseCommand } from "../../../../servers/apps/kv/resp.ts";
import { concat, encodeCommand, RawClient, RedisServer, Store } from "./reference.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LIMITS = { maxBulkBytes: 512 * 1024 * 1024 };

/**
 * What the store sends for `input` arriving at once, as the app does it:
 * parse and run commands in order; on a protocol error, "-ERR …" and
 * close.
 */
function storeAnswer(store: Store, input: Uint8Array): { reply: string; closed: boolean } {
  const out = new OutputWriter();
  let at = 0;
  for (;;) {
    const r = parseCommand(input, at, LIMITS);
    if (r.kind === "incomplete") return { reply: decoder.decode(out.bytes()), closed: false };
    if (r.kind === "error") {
      out.error("ERR " + r.message);
      return { reply: decoder.decode(out.bytes()), closed: true };
    }
    at = r.end;
    if (r.argv.length > 0) out.raw(store.call(r.argv));
  }
}

/** What redis-server sends for `input` until it closes the connection. */
async function redisAnswer(port: number, input: Uint8Array): Promise<string> {
  const client = await RawClient.connect(port);
  try {
    await client.send(input);
    return decoder.decode(await client.readToClose());
  } finally {
    client.close();
  }
}

const PING = encodeCommand(["ping"]);

const BAD_INPUT: Array<[string, Uint8Array]> = [
  ["invalid multibulk length", encoder.encode("*x\r\n")],
  ["multibulk length beyond INT_MAX", encoder.encode("*3000000000\r\n")],
  ["multibulk length with a plus", encoder.encode("*+1\r\n")],
  ["multibulk length with a leading zero", encoder.encode("*01\r\n$4\r\nping\r\n")],
  ["invalid bulk length", encoder.encode("*1\r\n$x\r\n")],
  ["negative bulk length", encoder.encode("*1\r\n$-1\r\n")],
  ["bulk beyond proto-max-bulk-len", encoder.encode("*1\r\n$600000000\r\n")],
  ["expected '$'", encoder.encode("*1\r\nx\r\n")],
  ["expected '$' after a good argument", encoder.encode("*2\r\n$4\r\necho\r\n:1\r\n")],
  ["too big inline request", encoder.encode("a".repeat(70 * 1024))],
  ["too big mbulk count string", encoder.encode("*" + "1".repeat(70 * 1024))],
  ["too big bulk count string", encoder.encode("*1\r\n$" + "1".repeat(70 * 1024))],
  ["unbalanced double quotes", encoder.encode('ping "a\r\n')],
  ["closing quote followed by a letter", encoder.encode('echo "a"b\r\n')],
  ["unbalanced single quotes", encoder.encode("echo 'a\n")],
];

Deno.test("every protocol error answers Redis 7.0's text, after the commands before it", async () => {
  const redis = await RedisServer.start();
  try {
    for (const [what, bad] of BAD_INPUT) {
      const input = concat([PING, encoder.encode("ping\r\n"), bad]);
      const theirs = await redisAnswer(redis.port, input);
      const ours = storeAnswer(new Store(64), input);
      assert.ok(ours.closed, `${what}: the store closes`);
      assert.equal(ours.reply, theirs, what);
    }
  } finally {
    await redis.stop();
  }
});

const INLINE: string[] = [
  "echo hello",
  "  echo   spaced   \t ",
  'echo "quoted words"',
  'echo "esc \\n \\r \\t \\b \\a \\\\ \\" \\x41\\x7a \\xZZ \\q"',
  "echo 'single \\' quote'",
  "echo 'no \\n escapes'",
  'echo a"b c" d',
  "echo ''",
  'echo ""',
  "ECHO x\r",
  "set 'k v' \"w\"",
  "get 'k v'",
  'echo "\\x00"',
];

Deno.test("inline commands split as sdssplitargs does: quotes, escapes, blanks, empty lines", async () => {
  const redis = await RedisServer.start();
  const client = await RawClient.connect(redis.port);
  const store = new Store(64);
  try {
    for (const line of INLINE) {
      const input = encoder.encode(line + "\n");
      await client.send(input);
      const [theirs] = await client.replies(1);
      const ours = storeAnswer(store, input);
      assert.equal(ours.reply, decoder.decode(theirs), JSON.stringify(line));
    }
    // empty lines are skipped: only the PING after them answers
    await client.send(encoder.encode("\r\n\n  \r\nping\n"));
    const [theirs] = await client.replies(1);
    assert.equal(
      storeAnswer(store, encoder.encode("\r\n\n  \r\nping\n")).reply,
      decoder.decode(theirs),
    );
  } finally {
    client.close();
    await redis.stop();
  }
});

Deno.test("a pipelined buffer cut at any byte gives the same commands, and needBytes never overshoots", () => {
  const big = "v".repeat(3000);
  const buf = concat([
    encodeCommand(["set", "k", big]),
    encoder.encode("get k\r\n"),
    encodeCommand(["incr", "n"]),
    encoder.encode("\r\n"),
    encodeCommand([]),
    encoder.encode('echo "a b" c\n'),
    encodeCommand(["mset", "a", "1", "b", ""]),
  ]);
  const whole: string[] = [];
  const ends: number[] = [];
  for (let at = 0; at < buf.length;) {
    const r = parseCommand(buf, at, LIMITS);
    assert.equal(r.kind, "command");
    if (r.kind !== "command") return;
    whole.push(JSON.stringify(r.argv.map((a) => decoder.decode(a))));
    ends.push(r.end);
    at = r.end;
  }
  assert.equal(whole.length, 7);
  for (let cut = 0; cut <= buf.length; cut++) {
    const seen: string[] = [];
    // what arrived so far, then the rest
    let at = 0;
    for (const view of [buf.subarray(0, cut), buf]) {
      while (at < view.length) {
        const r = parseCommand(view, at, LIMITS);
        if (r.kind === "error") assert.fail(`cut ${cut}: ${r.message}`);
        if (r.kind === "incomplete") {
          const next = ends.find((e) => e > at)!;
          assert.ok(
            view.length - at < r.needBytes,
            `cut ${cut}: needBytes ${r.needBytes} is already there`,
          );
          assert.ok(
            r.needBytes <= next - at,
            `cut ${cut}: needBytes ${r.needBytes} beyond the command's ${next - at}`,
          );
          break;
        }
        seen.push(JSON.stringify(r.argv.map((a) => decoder.decode(a))));
        at = r.end;
      }
    }
    assert.deepEqual(seen, whole, `cut at ${cut}`);
  }
});
