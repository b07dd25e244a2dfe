/**
 * The decision at a worker's safe point (servers/runtime/safe_point.ts):
 * under DRAIN a step in flight or work the freeze allows goes on, between
 * steps the worker parks, and under CAPTURE nothing runs, whatever the
 * worker has to do (it woke after the kernel's second look).
 *
 * Run: `deno test tests/runtime/safe_point_test.ts`.
 */

import assert from "node:assert/strict";
import { safePointAction } from "../../servers/runtime/safe_point.ts";
import { FreezeLine } from "../../kernel/abi/layout.ts";

Deno.test("safe point: no freeze runs; DRAIN runs a step in flight and the work it allows, else parks", () => {
  assert.equal(safePointAction(FreezeLine.OFF, true, false), "run");
  assert.equal(safePointAction(FreezeLine.OFF, false, true), "run");
  assert.equal(safePointAction(FreezeLine.DRAIN, false, false), "run");
  assert.equal(safePointAction(FreezeLine.DRAIN, true, true), "run");
  assert.equal(safePointAction(FreezeLine.DRAIN, true, false), "park");
});

Deno.test("safe point: under CAPTURE nothing runs, not even a reply that came after the second look", () => {
  // A worker counted WAITING wakes with a checkpoint_wait reply on its way: it must not print
  // while the kernel copies its console ring and reads its HEAD.
  assert.equal(safePointAction(FreezeLine.CAPTURE, true, true), "hold");
  assert.equal(safePointAction(FreezeLine.CAPTURE, false, false), "hold");
  assert.equal(safePointAction(FreezeLine.CAPTURE, true, false), "park");
});
