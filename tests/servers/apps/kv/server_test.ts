/**
 * The store's server commands where they are the store's own and no
 * redis-server can be compared byte for byte: INFO shows the keyspace,
 * memory and checkpoint figures from the host; HELLO 3 is refused with
 * -NOPROTO; CLIENT ID/SETINFO/LIST show the session; QUIT marks it
 * closing; and a keyspace that runs out of heap answers -OOM instead of
 * failing, with maxmemory off.
 *
 * Run: `deno test --allow-all tests/servers/apps/kv/server_test.ts`.
 */

import assert from "node:assert/strict";
import { Store } from "./reference.ts";

const decoder = new TextDecoder();
const reply = (s: Store, ...args: string[]) => decoder.decode(s.call(args));

Deno.test("INFO reports the keyspace, used memory, maxmemory and the checkpoint figures", () => {
  const s = new Store();
  reply(s, "set", "a", "1");
  reply(s, "set", "b", "2", "ex", "100");
  const info = reply(s, "info");
  assert.match(info, /^\$\d+\r\n# Server\r\nredis_version:7\.0\.15\r\n/);
  assert.match(info, /\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n/);
  assert.match(info, new RegExp(`\\r\\nused_memory:${s.host.keyspace.usedBytes()}\\r\\n`));
  assert.match(info, /\r\nmaxmemory:\d+\r\n/);
  assert.match(info, /\r\naof_enabled:0\r\n/);
  assert.match(info, /\r\nrdb_changes_since_last_save:0\r\n/);
  assert.match(info, /\r\ncheckpoint_period_ms:5\r\n/);
  const keyspaceOnly = reply(s, "info", "keyspace");
  const body = "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n";
  assert.equal(keyspaceOnly, `$${body.length}\r\n${body}\r\n`);
  assert.equal(reply(s, "info", "nosuch"), "$0\r\n\r\n");
});

Deno.test("HELLO 3 is refused with -NOPROTO; HELLO 2 shows the session's id", () => {
  const s = new Store();
  assert.equal(reply(s, "hello", "3"), "-NOPROTO unsupported protocol version\r\n");
  assert.match(reply(s, "hello", "2"), /\$2\r\nid\r\n:1\r\n/);
});

Deno.test("CLIENT ID, SETNAME, SETINFO and LIST show the session; QUIT marks it closing", () => {
  const s = new Store();
  assert.equal(reply(s, "client", "id"), ":1\r\n");
  assert.equal(reply(s, "client", "setname", "worker"), "+OK\r\n");
  assert.equal(reply(s, "client", "setinfo", "lib-name", "redis-py"), "+OK\r\n");
  assert.equal(reply(s, "client", "setinfo", "lib-ver", "5.0"), "+OK\r\n");
  assert.equal(
    reply(s, "client", "setinfo", "lib-name", "a b"),
    "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
  );
  assert.equal(reply(s, "client", "setinfo", "foo", "x"), "-ERR Unrecognized option 'foo'\r\n");
  const list = reply(s, "client", "list");
  assert.match(
    list,
    /id=1 addr=127\.0\.0\.1:1 .*name=worker .*cmd=client\|list .*lib-name=redis-py lib-ver=5\.0\n/,
  );
  assert.equal(s.session.closing, false);
  assert.equal(reply(s, "quit"), "+OK\r\n");
  assert.equal(s.session.closing, true);
});

Deno.test("a heap that runs out answers -OOM and keeps serving reads", () => {
  const s = new Store(16);
  assert.equal(reply(s, "config", "set", "maxmemory", "0"), "+OK\r\n");
  const value = "v".repeat(1000);
  let oom = -1;
  for (let i = 0; i < 1000 && oom < 0; i++) {
    const r = reply(s, "set", `k${i}`, value);
    if (r !== "+OK\r\n") {
      assert.equal(r, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
      oom = i;
    }
  }
  assert.ok(oom > 0, "the heap ran out");
  assert.equal(reply(s, "get", "k0"), `$1000\r\n${value}\r\n`);
  assert.equal(reply(s, "exists", `k${oom}`), ":0\r\n");
  assert.equal(reply(s, "del", "k0"), ":1\r\n");
});

Deno.test("the default maxmemory keeps a reserve below the heap's capacity, and refuses writes above it", () => {
  const s = new Store(64);
  const max = Number(
    /maxmemory\r\n\$\d+\r\n(\d+)/.exec(reply(s, "config", "get", "maxmemory"))![1],
  );
  assert.ok(max > 0 && max < s.host.keyspace.capacityBytes());
  assert.equal(
    reply(s, "config", "set", "maxmemory", String(s.host.keyspace.usedBytes() - 1)),
    "+OK\r\n",
  );
  assert.equal(
    reply(s, "set", "a", "1"),
    "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
  );
  assert.equal(reply(s, "get", "a"), "$-1\r\n");
});
