/**
 * The NIC's per-connection output count (hw/nic_output.ts): released is how
 * far the DATA sent reached (a re-send after a resume counts once), held is
 * how far the ring's unreleased frames reach beyond it.
 */

import assert from "node:assert/strict";
import { NicOutputCount } from "../../hw/nic_output.ts";
import { concatBytes, encodeFrame, FrameType } from "../../kernel/abi/net_link.ts";
import { NicEntryKind } from "../../kernel/abi/nic_rx.ts";
import { AppMachine } from "../../tools/app_machine.ts";
import { EchoClient } from "../../tools/echo_client.ts";
import type { MachineLine } from "../../hw/board.ts";

const data = (conn: number, off: number, text: string) =>
  encodeFrame(FrameType.DATA, conn, off, new TextEncoder().encode(text));

Deno.test("nic output: released by stream offset, held beyond it, ports from the committed table", () => {
  const count = new NicOutputCount();
  count.sent(concatBytes([data(1, 0, "hello "), data(2, 0, "abc"), data(1, 6, "world")]));
  count.sent(data(1, 0, "hello ")); // re-sent after a resume: the switch drops it, so does the count
  const held = concatBytes([data(1, 11, "!!"), encodeFrame(FrameType.FIN, 2, 3), data(3, 0, "x")]);
  const table = [{ kind: NicEntryKind.CONN, port: 7007, conn: 1, consumed: 0 }];
  assert.deepEqual(count.report(held, table), [
    { conn: 1, port: 7007, releasedBytes: 11, heldBytes: 2 },
    { conn: 2, port: undefined, releasedBytes: 3, heldBytes: 0 },
    { conn: 3, port: undefined, releasedBytes: 0, heldBytes: 1 },
  ]);
});

Deno.test("nic output: bytes that are not whole frames, or not frames at all, count nothing", () => {
  const count = new NicOutputCount();
  count.sent(data(1, 0, "hello").subarray(0, 10));
  count.sent(new Uint8Array(40).fill(0xff)); // no frame: a header of garbage
  assert.deepEqual(count.report(new Uint8Array([1, 2, 3]), []), []);
});

Deno.test("nic output: a machine under --report-ms reports an echo connection's bytes, all released once answered", async () => {
  const em = await AppMachine.start("echo", { extra: ["--report-ms", "100"] });
  try {
    const c = await EchoClient.connect("a", em.port);
    await c.send("hello");
    await c.replied(1); // "1 hello\n" reached the client: 8 bytes released
    type Net = Extract<MachineLine, { t: "net" }>;
    const since = em.machine.lines.length;
    const line = await em.machine.waitFor(
      (l): l is Net =>
        l.t === "net" && l.conns.some((n) => n.port === em.port && n.releasedBytes >= 8),
      30_000,
      since,
    );
    const conn = line.conns.find((n) => n.port === em.port)!;
    assert.equal(conn.releasedBytes, 8, JSON.stringify(line));
    assert.equal(conn.heldBytes, 0);
    await c.finish();
  } finally {
    await em.stop();
  }
});
