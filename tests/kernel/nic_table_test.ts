/**
 * The NIC connection table's copy at a cut (kernel/nic.ts `table`): made
 * into one of two buffers in turn, never a new one in the pause, each copy
 * holding the table as it was until the next-but-one cut.
 */

import assert from "node:assert/strict";
import { NIC_RX_PAGES, NIC_TABLE_BYTES } from "../../kernel/abi/nic_rx.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { allocatePmoBuffers } from "../../kernel/abi/pmem.ts";
import type { KernelToBoard } from "../../kernel/abi/protocol.ts";
import { NicDevice } from "../../kernel/nic.ts";

Deno.test("NIC table copies alternate between two buffers, each holding its cut's table", () => {
  const posted: KernelToBoard[] = [];
  const nic = new NicDevice((m) => posted.push(m));
  const rx = allocatePmoBuffers(9, NIC_RX_PAGES);
  (nic as unknown as { attachRx(id: number, ring: PmoBuffers, resumed: boolean): void })
    .attachRx(9, rx, false);
  const live = new Uint8Array(rx.data, 0, NIC_TABLE_BYTES);
  live[0] = 1;
  const a = nic.table()!;
  live[0] = 2;
  const b = nic.table()!;
  assert.notEqual(a, b, "the second copy does not overwrite the first");
  assert.deepEqual([a[0], b[0]], [1, 2]);
  live[0] = 3;
  const c = nic.table()!;
  assert.equal(c, a, "the third reuses the first buffer: no allocation");
  assert.deepEqual([b[0], c[0]], [2, 3], "the previous cut's copy still holds");
  assert.equal(c.length, NIC_TABLE_BYTES);
});
