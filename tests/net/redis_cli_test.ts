/**
 * The store issue's "done when", as a user runs it: `deno task boot
 * --fresh --apps kv --kv-port P --restart-on-crash` (the supervisor, which
 * starts the switch because kv needs the network), the real `redis-cli`
 * (PING, SET, GET) and `redis-benchmark -t set,get,incr -c 50` against it, and
 * `kill -9` of the machine process the supervisor names: after the resume
 * redis-cli reads the data again.
 */

import assert from "node:assert/strict";
import { requireCommand } from "../helpers.ts";
import { UserBoot } from "./user_boot.ts";

/** Bound on one redis-cli call: a store that never answers fails the test instead of hanging it. */
const CLI_TIMEOUT_MS = 60_000;

/** Runs `redis-cli -p port ...args`; returns its stdout, trimmed (fails the test on a non-zero exit). */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const r = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
  }).output();
  const dec = new TextDecoder();
  assert.equal(r.code, 0, `redis-cli ${args.join(" ")}: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout).trim();
}

/**
 * Requests per redis-benchmark test: thousands, few enough that the three
 * tests end in well under a minute at the store's rate under load (20,000
 * took minutes on a shared 2-core host).
 */
const BENCH_REQUESTS = 3_000;

Deno.test("boot --apps kv: redis-cli and redis-benchmark are served, and the data is there after kill -9 of the machine", async () => {
  await requireCommand("redis-cli", "redis-tools");
  await requireCommand("redis-benchmark", "redis-tools");
  const booted = await UserBoot.start("kv");
  const port = booted.port;
  try {
    assert.equal(await redisCli(port, "PING"), "PONG");
    assert.equal(await redisCli(port, "SET", "greeting", "hello world"), "OK");
    assert.equal(await redisCli(port, "GET", "greeting"), "hello world");

    // Between two tests redis-benchmark opens its next 50 clients while the last 50 still hold the
    // driver's table entries (freed at the switch's GONE): NIC_TABLE_ENTRIES (128) holds both.
    const bench = await new Deno.Command("redis-benchmark", {
      args: [
        "-p",
        String(port),
        "-t",
        "set,get,incr",
        "-n",
        String(BENCH_REQUESTS),
        "-c",
        "50",
        "-q",
      ],
    }).output();
    const benchErr = new TextDecoder().decode(bench.stderr);
    const benchOut = new TextDecoder().decode(bench.stdout);
    console.log(
      benchOut.trim().split(/\r|\n/).filter((l) => l.includes("requests per second")).join("\n"),
    );
    assert.equal(bench.code, 0, `redis-benchmark: ${benchErr}`);
    assert.equal(benchErr.trim(), "", "redis-benchmark wrote no errors");
    assert.doesNotMatch(benchOut, /error/i);
    // The benchmark's INCR ran BENCH_REQUESTS times on one key.
    assert.equal(await redisCli(port, "GET", "counter:__rand_int__"), String(BENCH_REQUESTS));

    await booted.killMachine();
    assert.equal(await redisCli(port, "GET", "greeting"), "hello world");
    assert.equal(await redisCli(port, "GET", "counter:__rand_int__"), String(BENCH_REQUESTS));
  } finally {
    await booted.stop();
  }
});
