/**
 * The echo app through the switch with real TCP clients: what a client
 * sees, checked from the outside (tools/echo_client.ts checks every reply
 * is the next number and the line sent).
 */

import assert from "node:assert/strict";
import { freshSeed } from "../../kernel/abi/prng.ts";
import { EchoClient } from "../../tools/echo_client.ts";
import { AppMachine } from "../../tools/app_machine.ts";
import { netScenario } from "../../tools/net_scenario.ts";

/** Asserts a client saw nothing wrong and its connection never broke. */
function assertClean(c: EchoClient): void {
  assert.deepEqual(c.violations, [], c.name);
  assert.equal(c.broken, undefined, `${c.name}: ${c.broken}`);
}

/** Reads from `conn` until EOF; returns everything read. */
async function readToEnd(conn: Deno.TcpConn): Promise<string> {
  return await new Response(conn.readable).text();
}

Deno.test("every line is echoed exactly once, in order, across seeded SIGKILLs; no connection breaks", async () => {
  const seed = freshSeed();
  console.log(
    `net scenario seed ${seed} (replay: deno task scenario net --seed ${seed} --iterations 3)`,
  );
  const r = await netScenario(seed, 3, { clients: 3, log: (s) => console.log(`  ${s}`) });
  assert.deepEqual(r.violations, [], `seed ${seed}`);
  assert.deepEqual(r.broken, [], `seed ${seed}`);
  assert.equal(r.resumes, 3);
  // Late clients (one per kill) and the steady ones were all answered.
  assert.ok(r.replies >= r.connections, `seed ${seed}: ${r.replies} replies`);
});

Deno.test("half-close, close from either side, and more connections than the driver's table, one after another", async () => {
  const em = await AppMachine.start("echo");
  try {
    // The client half-closes: it gets every reply, then the app's close.
    const a = await EchoClient.connect("a", em.port);
    await a.send("one");
    await a.send("two");
    await a.finish();
    assertClean(a);
    assert.equal(a.replies, 2);
    assert.ok(a.sawEof);
    // A partial last line is answered at the client's EOF.
    const raw = await Deno.connect({ hostname: "127.0.0.1", port: em.port });
    await raw.write(new TextEncoder().encode("no newline"));
    await raw.closeWrite();
    assert.equal(await readToEnd(raw), "1 no newline\n");
    // Clients that go away at once, 100 times: entries are freed (the table holds 64).
    for (let i = 0; i < 100; i++) {
      const c = await EchoClient.connect(`gone${i}`, em.port);
      await c.send(`x${i}`);
      await c.replied(1);
      assertClean(c);
      c.abort();
    }
    const last = await EchoClient.connect("last", em.port);
    await last.send("still served");
    await last.finish();
    assertClean(last);
    assert.equal(last.replies, 1);
    assert.deepEqual(em.sw.violations(), []);
  } finally {
    await em.stop();
  }
});

Deno.test("many connections at once are served together", async () => {
  const em = await AppMachine.start("echo");
  try {
    const clients = await Promise.all(
      Array.from({ length: 24 }, (_, i) => EchoClient.connect(`c${i}`, em.port)),
    );
    for (let round = 0; round < 5; round++) {
      await Promise.all(clients.map((c) => c.send(`${c.name} round ${round}`)));
    }
    await Promise.all(clients.map((c) => c.finish()));
    for (const c of clients) {
      assertClean(c);
      assert.equal(c.replies, 5, c.name);
    }
  } finally {
    await em.stop();
  }
});

Deno.test("a connection flood past the driver's table is refused, not queued for ever; the served go on", async () => {
  const em = await AppMachine.start("echo");
  try {
    const clients = await Promise.all(
      Array.from({ length: 80 }, (_, i) => EchoClient.connect(`f${i}`, em.port)),
    );
    await Promise.all(clients.map((c) => c.send(`${c.name} hello`)));
    await Promise.all(clients.map((c) => c.replied(1)));
    const served = clients.filter((c) => c.replies === 1);
    const refused = clients.filter((c) => c.replies === 0);
    for (const c of served) assertClean(c);
    // A refused client sees its connection end with nothing sent: never a wrong reply.
    for (const c of refused) {
      assert.deepEqual(c.violations, [], c.name);
      assert.ok(c.broken !== undefined, `${c.name} neither served nor refused`);
    }
    assert.ok(refused.length > 0, "80 connections fit a table of 64 entries");
    assert.ok(served.length >= 32, `only ${served.length} served`);
    for (const c of served) c.abort();
    // Room again once they are gone (each close is a round trip through a commit and the
    // switch's GONE): a new client is refused meanwhile, then served.
    let after: EchoClient | undefined;
    for (let attempt = 0; attempt < 100 && after?.replies !== 1; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
      after = await EchoClient.connect(`after${attempt}`, em.port);
      await after.send("room again");
      await after.finish();
    }
    assertClean(after!);
    assert.equal(after!.replies, 1);
  } finally {
    await em.stop();
  }
});

Deno.test("a client that never reads holds back only itself", async () => {
  const em = await AppMachine.start("echo");
  try {
    const hog = await Deno.connect({ hostname: "127.0.0.1", port: em.port });
    const line = new TextEncoder().encode("y".repeat(999) + "\n");
    // 4 MB of lines, never reading the replies: the writes stall once every window is full.
    const writing = (async () => {
      try {
        for (let i = 0; i < 4000; i++) await hog.write(line);
      } catch { /* closed at the end */ }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    const other = await EchoClient.connect("other", em.port);
    for (let i = 0; i < 20; i++) await other.send(`served ${i}`);
    await other.finish();
    assertClean(other);
    assert.equal(other.replies, 20);
    hog.close();
    await writing;
    assert.deepEqual(em.sw.violations(), []);
  } finally {
    await em.stop();
  }
});

Deno.test("connections survive the network driver's crash and restart", async () => {
  const em = await AppMachine.start("echo", { extra: ["--fault-injection"] });
  try {
    const c = await EchoClient.connect("c", em.port);
    for (let i = 0; i < 5; i++) await c.send(`before ${i}`);
    await c.replied(5);
    const restarts = em.machine.lines.length;
    await em.machine.inject("net", "exit", 1);
    await em.machine.waitFor(
      (l) => l.t === "log" && /restarting thread/.test(l.text),
      30_000,
      restarts,
    );
    for (let i = 0; i < 5; i++) await c.send(`after ${i}`);
    await c.finish();
    assertClean(c);
    assert.equal(c.replies, 10);
  } finally {
    await em.stop();
  }
});

Deno.test("a killed switch takes its clients' connections; the machine links to the next one and serves again", async () => {
  const em = await AppMachine.start("echo");
  try {
    const before = await EchoClient.connect("before", em.port);
    await before.send("one");
    await before.replied(1);
    assertClean(before);
    await em.replaceSwitch();
    // The new switch learns the port from the machine's HELLO (its committed LISTEN entries).
    await em.sw.waitFor((l) => l.t === "listening" && l.port === em.port);
    await before.replied(2);
    assert.ok(before.broken !== undefined, "the old switch's client lost its connection");
    const after = await EchoClient.connect("after", em.port);
    for (let i = 0; i < 3; i++) await after.send(`again ${i}`);
    await after.finish();
    assertClean(after);
    assert.equal(after.replies, 3);
    assert.deepEqual(em.sw.violations(), []);
  } finally {
    await em.stop();
  }
});
