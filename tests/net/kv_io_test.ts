/**
 * The kv store's request path from the outside, over TCP (servers/apps/kv/
 * main.ts serving each POLL with the batched socket calls): a large bulk
 * arrives whole through the 4 KiB receive windows, and many clients
 * reading long replies at once are all answered, none closed.
 */

import assert from "node:assert/strict";
import { AppMachine } from "../../tools/app_machine.ts";
import { encodeCommand, RespConn, showReply } from "../../tools/resp_client.ts";

Deno.test("a 256 KiB SET (64 receive windows) is taken whole and answered; GET returns every byte", async () => {
  const store = await AppMachine.start("kv", { label: "kvio-bulk" });
  try {
    const c = await RespConn.connect(store.port);
    const value = new Uint8Array(256 * 1024).fill(0x61);
    value[value.length - 1] = 0x7a;
    assert.equal(showReply(await c.call("SET", "big", value)), "+OK\\r\\n");
    assert.equal(showReply(await c.call("STRLEN", "big")), `:${value.length}\\r\\n`);
    assert.equal(showReply(await c.call("GETRANGE", "big", "-2", "-1")), "$2\\r\\naz\\r\\n");
    // And the connection goes on serving small commands after it.
    assert.equal(showReply(await c.call("PING")), "+PONG\\r\\n");
    c.close();
  } finally {
    await store.stop();
  }
});

Deno.test("25 clients reading 600-element LRANGE replies at once are all answered, none closed", async () => {
  const store = await AppMachine.start("kv", { label: "kvio-lrange" });
  try {
    const setup = await RespConn.connect(store.port);
    const push = ["LPUSH", "mylist", ...Array.from({ length: 100 }, () => "xxx")];
    for (let i = 0; i < 60; i++) await setup.call(...push);
    assert.equal(showReply(await setup.call("LLEN", "mylist")), ":6000\\r\\n");
    const clients = await Promise.all(
      Array.from({ length: 25 }, () => RespConn.connect(store.port)),
    );
    const lrange = encodeCommand(["LRANGE", "mylist", "0", "599"]);
    await Promise.all(clients.map(async (c, k) => {
      for (let round = 0; round < 8; round++) {
        // Pipelined two at a time, as redis-benchmark keeps its clients busy.
        await c.write(new Uint8Array([...lrange, ...lrange]));
        for (let j = 0; j < 2; j++) {
          const r = await c.read();
          assert.ok(
            r !== undefined,
            `client ${k}, round ${round}: the store closed the connection`,
          );
          assert.equal(r.t, "*", `client ${k}: ${showReply(r).slice(0, 80)}`);
        }
      }
    }));
    assert.equal(showReply(await setup.call("PING")), "+PONG\\r\\n");
    for (const c of [setup, ...clients]) c.close();
  } finally {
    await store.stop();
  }
});

Deno.test("pipelined replies past one drain's share (16 KiB) all arrive, with no further event from the client", async () => {
  const store = await AppMachine.start("kv", { label: "kvio-share" });
  try {
    const c = await RespConn.connect(store.port);
    const value = new Uint8Array(40 * 1024).fill(0x62);
    assert.equal(showReply(await c.call("SET", "v", value)), "+OK\\r\\n");
    // Three GETs in one write: 120 KiB of replies, more than one drain offers; the client then
    // only reads, so the rest must go out without a new event from it.
    const get = encodeCommand(["GET", "v"]);
    await c.write(new Uint8Array([...get, ...get, ...get]));
    for (let j = 0; j < 3; j++) {
      const r = await c.read();
      assert.ok(r?.t === "$" && r.bulk?.length === value.length, `reply ${j}: ${showReply(r)}`);
    }
    c.close();
  } finally {
    await store.stop();
  }
});
