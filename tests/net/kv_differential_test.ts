/**
 * The store against a real redis-server, from the outside: the booted
 * store (`--apps kv` behind a switch) and a redis-server the test starts
 * get the same seeded command sequences over TCP (tools/kv_diff.ts), every
 * reply compared byte for byte. Two redis-servers first, to prove the
 * comparator's tolerance rules admit no false difference, and the
 * comparator itself on replies that must differ.
 */

import assert from "node:assert/strict";
import { compareReplies, diffAgainst, formatMismatch, runDiff } from "../../tools/kv_diff.ts";
import { parseReply, type Reply } from "../../tools/resp_client.ts";
import { RedisProcess } from "../../tools/redis_process.ts";
import { requireCommand } from "../helpers.ts";

/** Seeds the store is run with each time (fixed, so a failure replays; printed). */
const STORE_SEEDS = [1, 2, 3];
/** Commands per seed against the store. */
const STORE_COMMANDS = 1_500;

function reply(text: string): Reply {
  return parseReply(new TextEncoder().encode(text), 0)!.reply;
}

Deno.test("the comparator: exact replies differ by one byte, TTLs within the tolerance only, sets as sets", () => {
  assert.equal(compareReplies("exact", reply("+OK\r\n"), reply("+OK\r\n")), undefined);
  assert.ok(compareReplies("exact", reply(":1\r\n"), reply(":2\r\n")));
  assert.ok(compareReplies("exact", reply("$1\r\na\r\n"), reply("$1\r\nb\r\n")));
  assert.equal(compareReplies("ttl-s", reply(":100\r\n"), reply(":99\r\n")), undefined);
  assert.ok(compareReplies("ttl-s", reply(":100\r\n"), reply(":90\r\n")));
  assert.ok(compareReplies("ttl-ms", reply(":-1\r\n"), reply(":-2\r\n")));
  assert.ok(compareReplies("ttl-ms", reply(":5000\r\n"), reply(":-1\r\n")));
  const ab = reply("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), ba = reply("*2\r\n$1\r\nb\r\n$1\r\na\r\n");
  assert.equal(compareReplies("unordered", ab, ba), undefined);
  assert.ok(compareReplies("exact", ab, ba));
  assert.ok(compareReplies("unordered", ab, reply("*2\r\n$1\r\na\r\n$1\r\na\r\n")));
  const h1 = reply("*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n");
  const h2 = reply("*4\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nf\r\n$1\r\n1\r\n");
  const h3 = reply("*4\r\n$1\r\ng\r\n$1\r\n1\r\n$1\r\nf\r\n$1\r\n2\r\n");
  assert.equal(compareReplies("pairs", h1, h2), undefined);
  assert.ok(compareReplies("pairs", h1, h3), "a value moved to another field");
  assert.equal(compareReplies("shape", reply("$3\r\nabc\r\n"), reply("$1\r\nx\r\n")), undefined);
  assert.ok(compareReplies("shape", reply("$3\r\nabc\r\n"), reply("-ERR x\r\n")));
});

Deno.test("two redis-servers agree on a seeded run under the comparator's tolerance rules", async () => {
  await requireCommand("redis-server", "redis-server");
  const seed = 42;
  console.log(`redis against redis, seed ${seed}`);
  const r = await diffAgainst("redis", { seed, commands: 2_000, log: console.log });
  assert.deepEqual(r.mismatches.map((m) => formatMismatch(m, { seed, commands: 2_000 })), []);
  assert.ok(r.commands >= 2_000 && r.pipelined > 0 && r.splitBatches > 0 && r.expiryWaits > 0);
});

Deno.test("the booted store answers seeded command sequences byte for byte as redis-server does", async () => {
  await requireCommand("redis-server", "redis-server");
  let commands = 0;
  for (const seed of STORE_SEEDS) {
    console.log(
      `store against redis, seed ${seed} (replay: deno task scenario kvdiff --seed ${seed} --commands ${STORE_COMMANDS})`,
    );
    const r = await diffAgainst("store", { seed, commands: STORE_COMMANDS, log: console.log });
    const shown = r.mismatches.map((m) => formatMismatch(m, { seed, commands: STORE_COMMANDS }));
    assert.deepEqual(shown, [], `seed ${seed}`);
    commands += r.commands;
  }
  console.log(`  ${commands} commands over ${STORE_SEEDS.length} seeds, no difference`);
});

Deno.test("runDiff reports a side that answers differently", async () => {
  await requireCommand("redis-server", "redis-server");
  // A redis-server with 32 databases answers SELECT 16 and CONFIG GET databases otherwise.
  const a = await RedisProcess.start(), b = await RedisProcess.start(["--databases", "32"]);
  try {
    const r = await runDiff({ seed: 5, commands: 3_000, portA: a.port, portB: b.port });
    assert.ok(r.mismatches.length > 0, "a server with 32 databases went unnoticed");
  } finally {
    await a.stop();
    await b.stop();
  }
});
