/**
 * The fault injector inside every worker (docs/FAULTS.md). It acts only on
 * a machine started with --fault-injection, when the kernel posts an
 * "inject" event, and makes this component commit the fault itself:
 *
 * - crashes: `throw` (an uncaught exception in the running handler),
 *   `loop` (an endless loop in it, for the watchdog) and `exit` (the worker
 *   closes itself, as `Deno.exit` would: no error, no event);
 * - misuse: `oom`, `garbage`, `oversized`, `forged-cap`, `revoked-cap`, a
 *   burst of hostile system calls and ring messages run while the component
 *   keeps serving. Each attempt must be refused with a named error; the
 *   injector logs a `fault-report {json}` line that counts the refusals and
 *   lists any breach (an attempt that succeeded or got E_INTERNAL).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX, PMO_PAGES_MAX } from "../../kernel/abi/limits.ts";
import type { FaultKind, SyscallOp } from "../../kernel/abi/protocol.ts";
import { Right } from "../../kernel/abi/rights.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import type { ClientConnection } from "./client.ts";
import type { Sys } from "./sys.ts";

/** What one misuse fault did, as logged in its `fault-report` line. */
export interface FaultReport {
  fault: FaultKind;
  /** Hostile attempts made. */
  attempts: number;
  /** Refusals by error name. */
  refused: Record<string, number>;
  /** Attempts that were not refused with a named error: each one is a containment failure. */
  breaches: string[];
  /** Fault-specific facts (e.g. pages allocated before the quota said no). */
  detail: Record<string, number>;
}

/** Labels no server defines: garbage requests use them. */
const GARBAGE_LABEL_BASE = 0x7f00_0000;
/** System calls that take arguments (the others ignore them, so garbage would succeed). */
const OPS_WITH_ARGS: SyscallOp[] = [
  "cap_info",
  "cap_copy",
  "cap_mint",
  "cap_delete",
  "cap_revoke",
  "cap_grant",
  "cap_transfer",
  "cap_group_create",
  "thread_create",
  "pmo_create",
  "pmo_map",
  "endpoint_serve",
  "connect",
  "conn_attach",
  "notification_bind",
  "notification_signal",
  "irq_bind",
];
/** Values no system call accepts as its first argument. */
const GARBAGE_VALUES: unknown[] = [
  -1,
  1.5,
  2 ** 40,
  Number.NaN,
  "3",
  null,
  {},
  [],
  { slot: 3 },
  "x".repeat(300),
  true,
];

/** Injects faults into the component it runs in. */
export class FaultInjector {
  constructor(
    private readonly sys: Sys,
    private readonly log: (text: string) => void,
    /** The component's client connections, for garbage and oversized requests. */
    private readonly clients: () => ClientConnection[],
  ) {}

  /** Commits `fault` now, inside the running handler. A crash does not return. */
  inject(fault: FaultKind, seed: number): void {
    if (fault === "throw") throw new Error(`injected fault: throw (seed ${seed})`);
    if (fault === "loop") {
      for (;;) { /* injected fault: an endless loop, for the watchdog */ }
    }
    if (fault === "exit") {
      // Between two handlers, as a stray `Deno.exit` in a callback would: only the heartbeat tells.
      setTimeout(() => self.close(), 0);
      return;
    }
    const report: FaultReport = { fault, attempts: 0, refused: {}, breaches: [], detail: {} };
    const rng = new Prng(seed);
    this.misuse(report, rng).catch((e) => report.breaches.push(`injector: ${String(e)}`))
      .finally(() => this.log(`fault-report ${JSON.stringify(report)}`));
  }

  private misuse(r: FaultReport, rng: Prng): Promise<void> {
    switch (r.fault) {
      case "oom":
        return this.oom(r);
      case "garbage":
        return this.garbage(r, rng);
      case "oversized":
        return this.oversized(r);
      case "forged-cap":
        return this.forgedCap(r, rng);
      default:
        return this.revokedCap(r);
    }
  }

  /** Runs one hostile attempt: it must fail with a named error other than E_INTERNAL. */
  private async expectRefused(r: FaultReport, what: string, f: () => Promise<unknown>) {
    r.attempts++;
    try {
      await f();
      r.breaches.push(`${what}: succeeded`);
    } catch (e) {
      if (e instanceof TardigradeError && e.code !== Err.E_INTERNAL) {
        r.refused[e.codeName] = (r.refused[e.codeName] ?? 0) + 1;
      } else r.breaches.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Allocates until the kernel refuses, twice: memory pages (PMOs of 16
   * pages, against the cap group's page quota) and kernel objects
   * (endpoints, against its object quota). The cap group's usage (pages,
   * objects, filled slots) is compared, not the error trusted: a refused
   * call must leave it as it was, and freeing everything must bring it back
   * to where it started.
   */
  private async oom(r: FaultReport): Promise<void> {
    r.detail.pagesAllocated = 16 * await this.exhaust(r, "pages", () => this.sys.pmoCreate(16));
    r.detail.objectsAllocated = await this.exhaust(
      r,
      "objects",
      () => this.sys.endpointCreate(),
    );
  }

  /** The caller's cap group usage, as one comparable string. */
  private async usage(): Promise<string> {
    const { usage } = await this.sys.systemInfo();
    return JSON.stringify({ ...usage, slots: (await this.sys.capList()).length });
  }

  /**
   * Calls `allocate` until it fails with E_NO_MEMORY (usage unchanged by the
   * refusal and by one more try), frees it all (usage back where it began),
   * allocates once more.
   */
  private async exhaust(r: FaultReport, what: string, allocate: () => Promise<number>) {
    const start = await this.usage();
    const held: number[] = [];
    let refusal: unknown;
    for (let i = 0; i < 100_000 && refusal === undefined; i++) {
      try {
        held.push(await allocate());
      } catch (e) {
        refusal = e;
      }
    }
    r.attempts++;
    if (refusal instanceof TardigradeError && refusal.code === Err.E_NO_MEMORY) {
      r.refused[refusal.codeName] = (r.refused[refusal.codeName] ?? 0) + 1;
    } else r.breaches.push(`${what}: never refused with E_NO_MEMORY: ${String(refusal)}`);
    // The refusal happened after the last allocation's usage: trying again must change nothing.
    const full = await this.usage();
    await this.expectRefused(r, `${what}: allocate when refused`, allocate);
    const after = await this.usage();
    if (after !== full) {
      r.breaches.push(`${what}: a refused allocation changed usage ${full} → ${after}`);
    }
    for (const slot of held) await this.sys.capDelete(slot);
    const freed = await this.usage();
    if (freed !== start) r.breaches.push(`${what}: usage ${start} before, ${freed} after freeing`);
    // The quota must come back: the same allocation succeeds again once everything is freed.
    if (held.length === 0) return 0; // nothing fitted in the first place
    try {
      await this.sys.capDelete(await allocate());
    } catch (e) {
      r.breaches.push(`${what}: not reclaimed after free: ${String(e)}`);
    }
    return held.length;
  }

  /** Malformed system calls, and requests with labels no server defines on every connection. */
  private async garbage(r: FaultReport, rng: Prng): Promise<void> {
    for (let i = 0; i < 24; i++) {
      const op = rng.pick(OPS_WITH_ARGS);
      const args = [rng.pick(GARBAGE_VALUES), rng.pick(GARBAGE_VALUES), rng.pick(GARBAGE_VALUES)];
      await this.expectRefused(r, `${op}(${safeJson(args)})`, () => this.sys.raw(op, ...args));
    }
    await this.expectRefused(r, "unknown op", () => this.sys.raw(`op_${rng.nextU32()}`, 1));
    await this.expectRefused(r, "op not a string", () => this.sys.raw(42 as unknown as string));
    for (const conn of this.clients()) {
      const label = GARBAGE_LABEL_BASE + rng.int(0, 0xffff);
      const payload = new Uint8Array(rng.int(0, 64)).map(() => rng.nextU32() & 0xff);
      await this.expectRefused(
        r,
        `label ${label} on connection ${conn.connId}`,
        () => this.replyOf(conn.call(label, payload)),
      );
    }
  }

  /** Messages and arguments over every limit. */
  private async oversized(r: FaultReport): Promise<void> {
    const big = new Uint8Array(MESSAGE_PAYLOAD_BYTES_MAX + 1);
    for (const conn of this.clients()) {
      await this.expectRefused(r, "payload over the limit", () => this.replyOf(conn.call(1, big)));
      await this.expectRefused(
        r,
        "ring slot claiming 4 GiB",
        () => this.replyOf(conn.forgeRequest(GARBAGE_LABEL_BASE, 0xffff_fff0)),
      );
    }
    const huge: Array<[SyscallOp, unknown[]]> = [
      ["pmo_create", [PMO_PAGES_MAX + 1]],
      ["pmo_create", [2 ** 31]],
      ["cap_group_create", ["x".repeat(100_000), 1]],
      ["cap_mint", [0, Right.CALL, 2 ** 40]],
      ["cap_info", [Array.from({ length: 100_000 }, (_, i) => i)]],
      ["thread_create", [0, "servers/apps/counter.ts", { blob: "y".repeat(100_000) }, "fresh"]],
    ];
    for (const [op, args] of huge) {
      await this.expectRefused(
        r,
        `${op} with oversized arguments`,
        () => this.sys.raw(op, ...args),
      );
    }
  }

  /** Slots it does not hold, kinds they are not, rights it lacks. */
  private async forgedCap(r: FaultReport, rng: Prng): Promise<void> {
    const held = await this.sys.capList();
    const taken = new Set(held.map((c) => c.slot));
    for (let i = 0; i < 8; i++) {
      let slot = rng.int(6, 8191);
      while (taken.has(slot)) slot = rng.int(6, 8191);
      const op = rng.pick<SyscallOp>(
        ["cap_info", "pmo_map", "connect", "conn_attach", "cap_copy", "cap_revoke", "cap_delete"],
      );
      await this.expectRefused(r, `${op} on empty slot ${slot}`, () => this.sys.raw(op, slot));
    }
    for (const cap of held) {
      if (cap.kind !== "PMO") {
        await this.expectRefused(
          r,
          `pmo_map of ${cap.kind} slot ${cap.slot}`,
          () => this.sys.pmoMap(cap.slot),
        );
      }
      if (cap.kind === "ENDPOINT" && (cap.rights & Right.RECEIVE) === 0) {
        await this.expectRefused(
          r,
          `serve endpoint slot ${cap.slot} without RECEIVE`,
          () => this.sys.endpointServe(cap.slot),
        );
      }
      if ((cap.rights & Right.GRANT) === 0) {
        await this.expectRefused(
          r,
          `copy slot ${cap.slot} without GRANT`,
          () => this.sys.capCopy(cap.slot),
        );
      }
    }
  }

  /** Uses slots after the capability behind them was revoked or deleted. */
  private async revokedCap(r: FaultReport): Promise<void> {
    const original = await this.sys.pmoCreate(1);
    const copy = await this.sys.capCopy(original);
    await this.sys.capRevoke(original);
    await this.expectRefused(r, "map a revoked copy", () => this.sys.pmoMap(copy));
    await this.expectRefused(r, "copy a revoked copy", () => this.sys.capCopy(copy));
    await this.expectRefused(r, "revoke a revoked copy", () => this.sys.capRevoke(copy));
    await this.sys.capDelete(original);
    await this.expectRefused(r, "map a deleted slot", () => this.sys.pmoMap(original));
    await this.expectRefused(r, "delete a deleted slot", () => this.sys.capDelete(original));
  }

  /** Turns a reply into a value or a thrown TardigradeError with its code. */
  private async replyOf(p: Promise<{ status: Err; payload: Uint8Array }>): Promise<unknown> {
    const reply = await p;
    if (reply.status !== Err.OK) {
      throw new TardigradeError(reply.status, new TextDecoder().decode(reply.payload));
    }
    return reply.payload;
  }
}

function safeJson(v: unknown): string {
  return JSON.stringify(v, (_, x) => (typeof x === "string" && x.length > 20 ? "…" : x))
    .slice(0, 120);
}
