/**
 * The machine's load average, for the reports and plot captions that say
 * under what load their figures were taken.
 *
 * @module
 */

/** The load average over 1, 5 and 15 minutes. */
export type LoadAverage = [number, number, number];

/**
 * The load average (1, 5, 15 minutes): Deno.loadavg() with --allow-sys,
 * else /proc/loadavg read through `cat` (the tasks grant --allow-run, and
 * Deno reads /proc itself only with --allow-all); undefined when neither works.
 */
export function loadAverage(): LoadAverage | undefined {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "loadavg" }).state === "granted") {
      const [a, b, c] = Deno.loadavg();
      return [a, b, c];
    }
    const out = new Deno.Command("cat", { args: ["/proc/loadavg"], stderr: "null" }).outputSync();
    const [a, b, c] = new TextDecoder().decode(out.stdout).split(" ").map(Number);
    return out.success && [a, b, c].every(Number.isFinite) ? [a, b, c] : undefined;
  } catch {
    return undefined;
  }
}

/** The load average as "1.23 0.98 0.50", or "unknown". */
export function loadAverageText(): string {
  return loadAverage()?.map((v) => v.toFixed(2)).join(" ") ?? "unknown";
}
