/**
 * The pause split of tools/bench/fs_pause.ts: the warm-up checkpoints left
 * out, each part's median and p99, the rest as the pause less the parts.
 * No timed assertions: the statistics are made up.
 *
 * Run: `deno test --allow-read tests/tools/bench/fs_pause_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { splitPause } from "../../../tools/bench/fs_pause.ts";
import type { CheckpointStats } from "../../../kernel/abi/protocol.ts";

const stat = (pauseUs: number, freezeUs: number, pageCopyUs: number): CheckpointStats => ({
  epoch: 1,
  freezeUs,
  capTreeUs: 2,
  objectsUs: { CAP: 2, THREAD: 1 },
  pageCopyUs,
  pauseUs,
  dirtyPages: 3,
  cowPages: 0,
  scannedChunks: 1,
  objectRecords: 4,
});

Deno.test("splitPause leaves out the warm-up and keeps the pause less its parts as the rest", () => {
  const warmup = Array.from({ length: 5 }, () => stat(1e6, 1e6, 1e6));
  const split = splitPause([...warmup, stat(100, 40, 50), stat(200, 60, 130), stat(300, 90, 200)]);
  assert.deepEqual(split.pause, { median: 200, p99: 300 });
  assert.deepEqual(split.freeze, { median: 60, p99: 90 });
  assert.deepEqual(split.pages, { median: 130, p99: 200 });
  assert.deepEqual(split.objects, { median: 3, p99: 3 });
  // 100 - 40 - 50 - 3, 200 - 60 - 130 - 3, 300 - 90 - 200 - 3
  assert.deepEqual(split.rest, { median: 7, p99: 7 });
  assert.deepEqual(split.dirtyPages, { median: 3, p99: 3 });
});
