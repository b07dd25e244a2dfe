/**
 * Test program for exactly-once effects across a resume, in three roles
 * (`deno task scenario nested`, tests/persistence/nested_test.ts):
 *
 * - `client` (the app init starts): on a first start it builds the rest, a
 *   middle server and two counter servers, each in a cap group of its own.
 *   On every timer tick it makes one INC request to the middle server and,
 *   once the reply is in, records the request as acknowledged in its PMO and
 *   prints `acked N m=M x=X y=Y` with the counts the reply carried.
 * - `middle`: for every INC it first bumps its own count (a write before
 *   any nested call), then makes three non-idempotent nested calls with
 *   `callSync` (X, Y, X again), and replies with the four counts.
 * - `count`: INC adds one to its count and replies with it.
 *
 * Exactly once means every acknowledged line reads `m=N x=2N y=N`: a
 * handler or step that ran twice, in part or whole, shows as a higher
 * count; a lost one as a lower.
 *
 * @module
 */

import { Right } from "../../kernel/abi/rights.ts";
import { type Grant, spawn } from "../../servers/init/spawn.ts";
import { unwrap } from "../../servers/runtime/ipc.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { type Context, runProgram } from "../../servers/runtime/program.ts";
import { lastingConnection, lastingPmo, serveService } from "../../servers/runtime/service.ts";

/** This file, as the kernel names programs. */
const PROGRAM = "tests/programs/nested.ts";
/** INC: add one, reply with the count(s) after it. */
const INC = 10;
/** Word of each role's state PMO: its count. */
const COUNT_WORD = 0;

/** Reads the little-endian u32 counts of a reply. */
function counts(payload: Uint8Array): number[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return Array.from({ length: payload.byteLength / 4 }, (_, i) => view.getUint32(i * 4, true));
}

function encodeCounts(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v, true));
  return out;
}

/**
 * Creates one server of this program in its own cap group, with CALL
 * capabilities to the endpoints of `calls` (by name); returns its endpoint's slot.
 */
async function startServer(
  ctx: Context,
  role: string,
  name: string,
  calls: Record<string, number> = {},
): Promise<number> {
  const endpoint = await ctx.sys.endpointCreate();
  await spawn(ctx.sys, {
    name,
    program: PROGRAM,
    quotaPages: 96,
    quotaObjects: 48,
    policy: "fresh",
    caps: [
      [CapName.SERVICE, { slot: endpoint, rights: Right.RECEIVE | Right.READ }],
      ...Object.entries(calls).map(([n, slot]): [string, Grant] => [
        n,
        { slot, rights: Right.CALL, badge: 1 },
      ]),
    ],
    args: { role },
  });
  return endpoint;
}

async function client(ctx: Context): Promise<void> {
  const state = await lastingPmo(ctx, "state", 1);
  if (ctx.names.get("middle") === undefined) {
    const x = await startServer(ctx, "count", "nested-x");
    const y = await startServer(ctx, "count", "nested-y");
    ctx.names.remember("middle", await startServer(ctx, "middle", "nested-m", { x, y }));
  }
  const middle = await lastingConnection(ctx, "middle");
  let busy = false;
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    if (busy) return;
    busy = true;
    (async () => {
      const [m, x, y] = counts(unwrap(await middle.call(INC), "middle INC"));
      const n = state.getU32(COUNT_WORD * 4) + 1;
      state.setU32(COUNT_WORD * 4, n);
      ctx.print(`acked ${n} m=${m} x=${x} y=${y}`);
    })().catch((e) => ctx.print(`nested ERROR ${e instanceof Error ? e.message : e}`))
      .finally(() => busy = false);
  });
}

async function middle(ctx: Context): Promise<void> {
  const state = await lastingPmo(ctx, "state", 1);
  const x = await lastingConnection(ctx, "x");
  const y = await lastingConnection(ctx, "y");
  await serveService(ctx, "nested-middle", (req) => {
    if (req.label !== INC) throw new Error(`middle: unknown label ${req.label}`);
    // A write before the nested calls: a re-run of this handler would count it twice.
    const m = state.getU32(COUNT_WORD * 4) + 1;
    state.setU32(COUNT_WORD * 4, m);
    unwrap(x.callSync(INC), "x INC");
    const [yCount] = counts(unwrap(y.callSync(INC), "y INC"));
    const [xCount] = counts(unwrap(x.callSync(INC), "x INC"));
    return encodeCounts([m, xCount, yCount]);
  });
}

async function count(ctx: Context): Promise<void> {
  const state = await lastingPmo(ctx, "state", 1);
  await serveService(ctx, ctx.name, (req) => {
    if (req.label !== INC) throw new Error(`count: unknown label ${req.label}`);
    const n = state.getU32(COUNT_WORD * 4) + 1;
    state.setU32(COUNT_WORD * 4, n);
    return encodeCounts([n]);
  });
}

const ROLES: Record<string, (ctx: Context) => Promise<void>> = { client, middle, count };

runProgram((ctx) => {
  const role = ROLES[String(ctx.args.role ?? "client")];
  if (!role) throw new Error(`nested: unknown role ${ctx.args.role}`);
  return role(ctx);
});
