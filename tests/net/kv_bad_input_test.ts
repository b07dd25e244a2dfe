/**
 * Bad input to the booted store from the outside over TCP, each case also
 * sent to a real redis-server and compared: the bytes that came back and
 * whether the server closed the connection. Malformed RESP, a bulk beyond
 * proto-max-bulk-len, an inline line beyond 64 KiB, a client that never
 * reads, a flood of clients past the driver's table, the memory quota
 * exhausted; and a fault injected into the store, which restarts from its
 * NVM state with the client's connection and data intact.
 */

import assert from "node:assert/strict";
import { AppMachine } from "../../tools/app_machine.ts";
import { RedisProcess } from "../../tools/redis_process.ts";
import { encodeCommand, RespConn, showBytes, showReply } from "../../tools/resp_client.ts";
import { requireCommand } from "../helpers.ts";

const encoder = new TextEncoder();

/** What a server did with one bad input. */
interface Outcome {
  /** Everything it sent back, shown printable. */
  bytes: string;
  /** It closed the connection without the client's half-close. */
  closedByServer: boolean;
}

/**
 * Sends `input` and sees what comes back. `closes`: the server must close
 * on its own (read to EOF). `open`: a PING follows and its +PONG must come
 * back (then the client half-closes). `waits`: the server waits for more;
 * the client half-closes and reads to EOF.
 */
async function probe(
  port: number,
  input: Uint8Array,
  expect: "closes" | "open" | "waits",
): Promise<Outcome> {
  const c = await RespConn.connect(port);
  try {
    const ping = encodeCommand(["PING"]);
    await c.write(expect === "open" ? new Uint8Array([...input, ...ping]) : input);
    let got = new Uint8Array(0);
    const take = async () => {
      const r = await c.read();
      if (r !== undefined) got = new Uint8Array([...got, ...r.raw]);
      return r;
    };
    if (expect === "open") {
      for (let r = await take(); r !== undefined && !(r.t === "+" && r.text === "PONG");) {
        r = await take();
      }
    }
    let closedByServer = false;
    if (expect === "closes") {
      while (await take() !== undefined) { /* to EOF */ }
      closedByServer = true;
    } else {
      closedByServer = c.closed;
      await c.conn.closeWrite().catch(() => {});
      while (await take() !== undefined) { /* to EOF */ }
    }
    return { bytes: showBytes(new Uint8Array([...got, ...c.pending()]), 200), closedByServer };
  } finally {
    c.close();
  }
}

const bulkHeader = (argv: string[], lastLen: number) =>
  encoder.encode(
    `*${argv.length + 1}\r\n` + argv.map((a) => `$${a.length}\r\n${a}\r\n`).join("") +
      `$${lastLen}\r\n`,
  );

/** The malformed inputs: name, bytes, what Redis does with them. */
const CASES: Array<[string, Uint8Array, "closes" | "open" | "waits"]> = [
  ["bad type byte in a multibulk", encoder.encode("*1\r\nx3\r\nfoo\r\n"), "closes"],
  ["negative multibulk length (skipped)", encoder.encode("*-1\r\n"), "open"],
  ["zero multibulk length (skipped)", encoder.encode("*0\r\n"), "open"],
  ["multibulk length beyond INT_MAX", encoder.encode("*99999999999\r\n"), "closes"],
  ["multibulk length not a number", encoder.encode("*x\r\n"), "closes"],
  ["huge multibulk length (waits for its arguments)", encoder.encode("*1048577\r\n"), "waits"],
  ["negative bulk length", encoder.encode("*1\r\n$-1\r\n"), "closes"],
  ["bulk length not a number", encoder.encode("*1\r\n$x\r\n"), "closes"],
  ["huge bulk length", encoder.encode("*1\r\n$9999999999\r\n"), "closes"],
  ["bulk without its CRLF (two bytes skipped)", encoder.encode("*1\r\n$4\r\nPINGxx"), "open"],
  ["lines ended by LF only (waits for CR)", encoder.encode("*1\n$4\nPING\n"), "waits"],
  ["unbalanced quotes inline", encoder.encode('SET "a b\r\n'), "closes"],
  ["an inline line beyond 64 KiB", encoder.encode("A".repeat(70_000)), "closes"],
  ["a multibulk count line beyond 64 KiB", encoder.encode("*" + "1".repeat(70_000)), "closes"],
  ["a bulk count line beyond 64 KiB", encoder.encode("*1\r\n$" + "1".repeat(70_000)), "closes"],
];

/** Redis and the store side by side; the store with fault injection on. */
interface Pair {
  redis: RedisProcess;
  store: AppMachine;
}

async function withPair(fn: (p: Pair) => Promise<void>): Promise<void> {
  await requireCommand("redis-server", "redis-server");
  const redis = await RedisProcess.start();
  let store: AppMachine | undefined;
  try {
    store = await AppMachine.start("kv", { extra: ["--fault-injection"], label: "kvbad" });
    await fn({ redis, store });
  } finally {
    await store?.stop();
    await redis.stop();
  }
}

/** Both servers emptied and their limits back at the defaults: each step starts as on fresh servers. */
async function reset({ redis, store }: Pair): Promise<void> {
  for (const port of [redis.port, store.port]) {
    const c = await RespConn.connect(port);
    for (
      const argv of [
        ["FLUSHALL"],
        ["CONFIG", "SET", "maxmemory", "0", "proto-max-bulk-len", String(512 * 1024 * 1024)],
      ]
    ) {
      assert.equal(showReply(await c.call(...argv)), "+OK\\r\\n", `${argv[0]} on port ${port}`);
    }
    c.close();
  }
}

/** Sends `argv` on both connections; asserts the replies are the same bytes; returns the text. */
async function same(a: RespConn, b: RespConn, ...argv: string[]): Promise<string> {
  const [ra, rb] = await Promise.all([a.call(...argv), b.call(...argv)]);
  assert.equal(showReply(rb), showReply(ra), `${argv.join(" ")}: the store (actual) against redis`);
  return showReply(ra);
}

/**
 * One redis-server and one booted store for every case (a machine boot
 * costs seconds), each case a step on connections of its own; the client
 * that never reads goes last, since a store it stalls would fail the
 * steps after it for its sake.
 */
Deno.test("bad input to the store and to redis-server: the same bytes back, the same closes, everyone else served", async (t) => {
  await withPair(async (pair) => {
    await t.step(
      "malformed RESP: the store answers and closes (or waits) exactly as redis-server",
      async () => {
        const { redis, store } = pair;
        await reset(pair);
        const steady = await RespConn.connect(store.port);
        for (const [name, input, expect] of CASES) {
          const want = await probe(redis.port, input, expect);
          const got = await probe(store.port, input, expect);
          console.log(`  ${name}: ${want.bytes || "(nothing)"}, closed ${want.closedByServer}`);
          assert.deepEqual(got, want, `${name}: the store (actual) against redis (expected)`);
          assert.equal(want.closedByServer, expect === "closes", `${name}: redis itself`);
        }
        // Everyone else is served throughout.
        assert.equal(showReply(await steady.call("PING")), "+PONG\\r\\n");
        steady.close();
      },
    );
    await t.step(
      "a bulk beyond proto-max-bulk-len is refused and the connection closed, as redis-server does",
      async () => {
        const { redis, store } = pair;
        await reset(pair);
        const [a, b] = await Promise.all([
          RespConn.connect(redis.port),
          RespConn.connect(store.port),
        ]);
        await same(a, b, "CONFIG", "SET", "proto-max-bulk-len", "1mb");
        await same(a, b, "CONFIG", "GET", "proto-max-bulk-len");
        const input = bulkHeader(["SET", "k"], 1024 * 1024 + 1);
        const [want, got] = [
          await probe(redis.port, input, "closes"),
          await probe(store.port, input, "closes"),
        ];
        assert.deepEqual(got, want, "the store (actual) against redis (expected)");
        // Smaller bulks are still taken, on a connection of its own.
        await same(a, b, "SET", "k", "x".repeat(1000));
        await same(a, b, "STRLEN", "k");
        a.close();
        b.close();
      },
    );
    await t.step(
      "a flood of connections past the driver's table: the client already connected is served throughout",
      async () => {
        const { redis, store } = pair;
        await reset(pair);
        const [a, b] = await Promise.all([
          RespConn.connect(redis.port),
          RespConn.connect(store.port),
        ]);
        await same(a, b, "SET", "before", "1");
        const flood: RespConn[] = [];
        for (let i = 0; i < 80; i++) {
          flood.push(await RespConn.connect(redis.port), await RespConn.connect(store.port));
        }
        for (let i = 0; i < 10; i++) await same(a, b, "INCR", "during");
        for (const c of flood) c.close();
        await same(a, b, "GET", "before");
        const [a2, b2] = await Promise.all([
          RespConn.connect(redis.port),
          RespConn.connect(store.port),
        ]);
        await same(a2, b2, "GET", "during");
        for (const c of [a, b, a2, b2]) c.close();
      },
    );
    await t.step(
      "the memory quota exhausted: -OOM for writes that grow, reads and deletes served, nothing committed lost",
      async () => {
        const { redis, store } = pair;
        await reset(pair);
        const [a, b] = await Promise.all([
          RespConn.connect(redis.port),
          RespConn.connect(store.port),
        ]);
        for (let i = 0; i < 20; i++) await same(a, b, "SET", `k${i}`, `value ${i}`);
        await same(a, b, "RPUSH", "list", "a", "b", "c");
        await same(a, b, "CONFIG", "SET", "maxmemory", "1");
        const oom = "-OOM command not allowed when used memory > 'maxmemory'.\\r\\n";
        assert.equal(await same(a, b, "SET", "new", "x"), oom);
        assert.equal(await same(a, b, "RPUSH", "list", "d"), oom);
        assert.equal(await same(a, b, "APPEND", "k1", "more"), oom);
        await same(a, b, "GET", "k1");
        await same(a, b, "LRANGE", "list", "0", "-1");
        await same(a, b, "DEL", "k0");
        await same(a, b, "CONFIG", "SET", "maxmemory", "0");
        await same(a, b, "SET", "new", "x");
        for (let i = 0; i < 20; i++) await same(a, b, "GET", `k${i}`);
        await same(a, b, "DBSIZE");
        a.close();
        b.close();
      },
    );
    await t.step(
      "a fault in the store (throw, exit): it restarts from its NVM state; the client's connection and data survive",
      async () => {
        const { store } = pair;
        await reset(pair);
        const c = await RespConn.connect(store.port);
        assert.equal(showReply(await c.call("SET", "kept", "before")), "+OK\\r\\n");
        let n = 0;
        for (const [i, fault] of (["throw", "exit"] as const).entries()) {
          const since = store.machine.lines.length;
          assert.equal(showReply(await c.call("INCR", "n")), `:${++n}\\r\\n`);
          await store.machine.inject("kv", fault, i + 1);
          await store.machine.waitFor(
            (l) => l.t === "log" && /restarting thread/.test(l.text),
            30_000,
            since,
          );
          assert.equal(showReply(await c.call("GET", "kept")), "$6\\r\\nbefore\\r\\n", fault);
          assert.equal(showReply(await c.call("INCR", "n")), `:${++n}\\r\\n`, fault);
        }
        assert.equal(c.closed, false);
        c.close();
      },
    );
    await t.step("a client that never reads its replies holds back no one else", async () => {
      const { redis, store } = pair;
      await reset(pair);
      for (const port of [redis.port, store.port]) {
        const hog = await RespConn.connect(port);
        const other = await RespConn.connect(port);
        assert.equal(showReply(await other.call("SET", "big", "x".repeat(64 * 1024))), "+OK\\r\\n");
        // 4 MiB of replies asked for and never read.
        const gets = encodeCommand(["GET", "big"]);
        const burst = new Uint8Array(gets.length * 64);
        for (let i = 0; i < 64; i++) burst.set(gets, i * gets.length);
        // Not awaited: once the server stops reading from the hog, this write blocks.
        const writing = hog.write(burst).catch(() => {});
        for (let i = 0; i < 20; i++) {
          assert.equal(showReply(await other.call("INCR", "n")), `:${i + 1}\\r\\n`, `port ${port}`);
        }
        hog.close();
        await writing;
        other.close();
      }
    });
  });
});
