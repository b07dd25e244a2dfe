/**
 * The shell's `kv` command (servers/apps/shell/kv_commands.ts) and the kv
 * store's IPC protocol (servers/apps/kv/protocol.ts): replies shown as
 * redis-cli shows them; usage and a shell without a store; and on a real
 * machine with `--apps kv,shell`, writes through the shell that a RESP
 * client sees and the other way round, kept across a SIGKILL.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import { Err } from "../../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../../kernel/abi/limits.ts";
import { decodeCommand, encodeCommand } from "../../../servers/apps/kv/protocol.ts";
import { Shell } from "../../../servers/apps/shell/commands.ts";
import { formatResp, type KvApi } from "../../../servers/apps/shell/kv_commands.ts";
import type { FsApi } from "../../../servers/fs/vfs.ts";
import { AppMachine } from "../../../tools/app_machine.ts";
import { freePort } from "../../../tools/echo_client.ts";
import { bulkText, RespConn } from "../../../tools/resp_client.ts";
import { runLines, ShellSession } from "./_shell_session.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("kv protocol: argv round-trips, binary and empty arguments included; too long is E_MESSAGE_TOO_LARGE", () => {
  const argv = [bytes("SET"), bytes(""), new Uint8Array([0, 13, 10, 255])];
  assert.deepEqual(decodeCommand(encodeCommand(argv)), argv);
  assert.throws(
    () => encodeCommand(["SET", "k", "v".repeat(MESSAGE_PAYLOAD_BYTES_MAX)]),
    (e: { code?: Err }) => e.code === Err.E_MESSAGE_TOO_LARGE,
  );
  assert.throws(() => decodeCommand(new Uint8Array([2, 0, 0, 0, 9, 0, 0, 0])), /kv COMMAND/);
});

Deno.test("kv formatResp: each reply type as redis-cli prints it; a bulk string may hold CRLF", () => {
  // The break this catches: reading a bulk string up to the next CRLF instead of by its length.
  assert.deepEqual(formatResp(bytes("+OK\r\n")), { lines: ["OK"] });
  assert.deepEqual(formatResp(bytes("$-1\r\n")), { lines: ["(nil)"] });
  assert.deepEqual(formatResp(bytes(":-7\r\n")), { lines: ["(integer) -7"] });
  assert.deepEqual(formatResp(bytes("$4\r\na\r\nb\r\n")), { lines: ['"a\\r\\nb"'] });
  assert.deepEqual(formatResp(bytes("*0\r\n")), { lines: ["(empty array)"] });
  assert.deepEqual(formatResp(bytes("*2\r\n$1\r\nx\r\n*2\r\n:1\r\n$-1\r\n")), {
    lines: ['1) "x"', "2) 1) (integer) 1", "   2) (nil)"],
  });
  assert.deepEqual(formatResp(bytes("-WRONGTYPE Operation\r\n")), {
    lines: [],
    error: "WRONGTYPE Operation",
  });
});

/** A fake store that records each argv and answers `reply`. */
function fakeKv(reply: string): KvApi & { seen: string[][] } {
  const seen: string[][] = [];
  return { seen, command: (argv) => (seen.push(argv), Promise.resolve(bytes(reply))) };
}

Deno.test("kv command: usage per subcommand, argv passed as typed, a command's error is ERESP", async () => {
  const kv = fakeKv("-ERR boom\r\n");
  const [noArgs, getTwo, setOne, ok] = await runLines(new Shell({} as FsApi, undefined, kv), [
    "kv",
    "kv get a b",
    "kv set a",
    'kv set a "two words"',
  ]);
  for (const r of [noArgs, getTwo, setOne]) {
    assert.equal(r.errno, "EINVAL");
    assert.match(r.message!, /^usage: kv get KEY/);
  }
  assert.equal(ok.errno, "ERESP");
  assert.equal(ok.message, "ERR boom");
  assert.deepEqual(kv.seen, [["set", "a", "two words"]], "only the well-formed line reached it");
  const [none] = await runLines(new Shell({} as FsApi), ["kv get a"]);
  assert.equal(none.errno, "E_NOT_FOUND", "a shell without a store says so");
});

Deno.test("shell kv on a machine with --apps kv,shell: both ways with RESP clients, kept across a SIGKILL", async () => {
  const kvPort = freePort();
  const m = await AppMachine.start(`kv?port=${kvPort},shell`, { label: "shell-kv" });
  await m.sw.waitFor((l) => l.t === "listening" && l.port === kvPort);
  const s = await ShellSession.open(m.port);
  const resp = await RespConn.connect(kvPort);
  try {
    assert.deepEqual((await s.ask('kv set greeting "hello world"')).lines, ["OK"]);
    assert.equal(bulkText(await resp.call("GET", "greeting")), "hello world", "RESP sees it");
    await resp.call("SET", "n", "41");
    assert.deepEqual((await s.ask("kv incr n")).lines, ["(integer) 42"], "the shell sees RESP's");
    assert.equal((await s.ask("kv lpush greeting x")).errno, "ERESP", "WRONGTYPE as a status");
    await m.crash();
    await m.resume();
    assert.deepEqual((await s.ask("kv get n")).lines, ['"42"'], "the same session after resume");
    assert.deepEqual((await s.ask("kv del greeting n nothing")).lines, ["(integer) 2"]);
    assert.equal(bulkText(await resp.call("GET", "n")), null, "deleted for RESP clients too");
  } finally {
    s.close();
    resp.close();
    await m.stop();
  }
});
