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
import { APP_TIMER_SLOT, SERVICE_SLOT } from "../../servers/init/config.ts";
import { type ClientConnection, unwrap } from "../../servers/runtime/ipc.ts";
import { type Context, runProgram } from "../../servers/runtime/program.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { serveService } from "../../servers/runtime/service.ts";

/** This file, as the kernel names programs. */
const PROGRAM = "tests/programs/nested.ts";
/** INC: add one, reply with the count(s) after it. */
const INC = 10;
/** Words of each role's state PMO. */
const COUNT_WORD = 0, CONN_WORD = 1, CONN2_WORD = 2;
/** The client's PMO: after the timer (2) and the three service capabilities (3, 4, 5). */
const CLIENT_STATE_SLOT = 6;
/** The middle's PMO: after its endpoint (2) and its CALL capabilities to X and Y. */
const MIDDLE_STATE_SLOT = 5;
/** A counter's PMO: right after its endpoint. */
const COUNT_STATE_SLOT = 3;
/** Slots of the middle server's CALL capabilities to X and Y. */
const X_SLOT = 3, Y_SLOT = 4;

/** The state PMO of this program in `slot`: created on a first start, then mapped. */
async function statePmo(ctx: Context, slot: number): Promise<PersistentMemory> {
  if (!ctx.resumed) {
    const got = await ctx.sys.pmoCreate(1);
    if (got !== slot) throw new Error(`${ctx.name}: state PMO landed in slot ${got}, not ${slot}`);
  }
  return ctx.map(slot);
}

/** A connection whose capability slot is kept in `state` word `word`: attached on a resume. */
async function keptConnection(
  ctx: Context,
  state: PersistentMemory,
  word: number,
  endpointSlot: number,
): Promise<ClientConnection> {
  const slot = state.getU32(word * 4);
  if (ctx.resumed && slot !== 0) return ctx.attach(slot);
  const conn = await ctx.connect(endpointSlot);
  state.setU32(word * 4, conn.slot);
  return conn;
}

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

/** Creates one server of this program in its own cap group; returns its endpoint's slot. */
async function startServer(
  ctx: Context,
  role: string,
  name: string,
  calls: number[] = [],
): Promise<number> {
  const sys = ctx.sys;
  const endpoint = await sys.endpointCreate();
  const group = await sys.capGroupCreate(name, 96, 48);
  await sys.capGrant(group, endpoint, Right.RECEIVE | Right.READ, undefined, SERVICE_SLOT);
  for (const [i, ep] of calls.entries()) await sys.capGrant(group, ep, Right.CALL, 1, X_SLOT + i);
  await sys.threadCreate(group, PROGRAM, { role }, "fresh");
  return endpoint;
}

async function client(ctx: Context): Promise<void> {
  const state = await statePmo(ctx, CLIENT_STATE_SLOT);
  let middleEndpoint = 0;
  if (!ctx.resumed) {
    const x = await startServer(ctx, "count", "nested-x");
    const y = await startServer(ctx, "count", "nested-y");
    middleEndpoint = await startServer(ctx, "middle", "nested-m", [x, y]);
  }
  const middle = await keptConnection(ctx, state, CONN_WORD, middleEndpoint);
  let busy = false;
  await ctx.onNotification(APP_TIMER_SLOT, () => {
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
  const state = await statePmo(ctx, MIDDLE_STATE_SLOT);
  const x = await keptConnection(ctx, state, CONN_WORD, X_SLOT);
  const y = await keptConnection(ctx, state, CONN2_WORD, Y_SLOT);
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
  const state = await statePmo(ctx, COUNT_STATE_SLOT);
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
