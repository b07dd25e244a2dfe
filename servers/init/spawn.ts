/**
 * Starting a program in a cap group of its own, with named capabilities:
 * the one way init (and a program that starts servers of its own, e.g.
 * tests/programs/nested.ts) hands out slots.
 *
 * {@link spawn} creates the cap group, grants each capability of `caps`
 * from kernel/abi/slots.ts GRANTED_FIRST_SLOT on, in the order given,
 * grants a fresh 1-page slot record in Slot.RECORD, and starts the thread
 * with `caps` (name → slot in the new group) in its start args. The program
 * then asks `ctx.cap("fs")`, never for a number.
 *
 * @module
 */

import { Right } from "../../kernel/abi/rights.ts";
import type { RestartPolicy } from "../../kernel/abi/protocol.ts";
import { CAPS_ARG, GRANTED_FIRST_SLOT, Slot } from "../../kernel/abi/slots.ts";
import type { Sys } from "../runtime/sys.ts";

/** One capability to hand over: a slot of the parent, the rights and badge the child gets. */
export interface Grant {
  slot: number;
  rights: number;
  badge?: number;
}

/** What {@link spawn} starts. */
export interface SpawnSpec {
  /** The cap group's name (what the machine log, fault injection and policies call it). */
  name: string;
  program: string;
  quotaPages: number;
  /** Kernel records the group may use (the kernel's default when absent). */
  quotaObjects?: number;
  policy: RestartPolicy;
  /** Named capabilities, granted in this order. */
  caps: Array<[string, Grant]>;
  /** Further start arguments. */
  args?: Record<string, unknown>;
}

/** Pages of a slot record. */
const RECORD_PAGES = 1;

/**
 * Starts `spec.program` in a new cap group. Returns the parent's slots of
 * the group and the thread. Needs GRANT on every capability of `spec.caps`.
 */
export async function spawn(sys: Sys, spec: SpawnSpec): Promise<{ group: number; thread: number }> {
  const group = await sys.capGroupCreate(spec.name, spec.quotaPages, spec.quotaObjects);
  const record = await sys.pmoCreate(RECORD_PAGES);
  await sys.capGrant(group, record, Right.READ | Right.WRITE, undefined, Slot.RECORD);
  // The parent needs no copy of the record: the child's is all that names it.
  await sys.capDelete(record);
  const caps: Record<string, number> = {};
  for (const [i, [name, grant]] of spec.caps.entries()) {
    caps[name] = await sys.capGrant(
      group,
      grant.slot,
      grant.rights,
      grant.badge,
      GRANTED_FIRST_SLOT + i,
    );
  }
  const args = { ...spec.args, [CAPS_ARG]: caps };
  const thread = await sys.threadCreate(group, spec.program, args, spec.policy);
  return { group, thread };
}
