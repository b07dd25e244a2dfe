/**
 * tools/bench/stats.ts: percentiles by nearest rank, the median, and
 * median with p99, as every benchmark reports them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dist, median, percentile, sortedCopy } from "../../../tools/bench/stats.ts";

Deno.test("percentile() takes the nearest rank: the ⌈p·n⌉-th smallest value", () => {
  const sorted = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000
  assert.equal(percentile(sorted, 0.99), 990);
  assert.equal(percentile(sorted, 0.5), 500);
  assert.equal(percentile(sorted, 1), 1000);
  assert.equal(percentile([7], 0.99), 7);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
});

Deno.test("percentile() of no values is NaN", () => {
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.ok(Number.isNaN(median([])));
});

Deno.test("median() and dist() sort numerically and leave their input as it was", () => {
  const values = [10, 9, 100, 2, 1];
  assert.equal(median(values), 9);
  assert.deepEqual(values, [10, 9, 100, 2, 1]);
  const d = dist(new Float64Array([5, 40, 3]));
  assert.deepEqual(d, { median: 5, p99: 40 });
  assert.deepEqual([...sortedCopy([10, 9, 100])], [9, 10, 100]);
});
