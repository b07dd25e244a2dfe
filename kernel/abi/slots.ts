/**
 * Well-known capability slots: the few slot numbers the kernel and the
 * programs agree on. Everything else is found by name (servers/runtime/
 * names.ts): a parent passes each capability it grants as `caps` (name →
 * slot) in the thread's start args, and a program keeps the slots of what
 * it creates itself in its slot record.
 *
 * | slot               | in every cap group                              |
 * |--------------------|-------------------------------------------------|
 * | {@link Slot.GROUP}  | its own cap group (the kernel puts it there)   |
 * | {@link Slot.THREAD} | its first thread (the kernel puts it there)    |
 * | {@link Slot.RECORD} | its slot record, a 1-page PMO its parent grants; far above the slots a program fills from the lowest free one |
 *
 * The root task (init) also holds the timer IRQ in {@link INIT_TIMER_IRQ_SLOT}
 * and the NIC's transmit ring, receive PMO and IRQ in {@link INIT_NIC_TX_SLOT},
 * {@link INIT_NIC_RX_SLOT} and {@link INIT_NIC_IRQ_SLOT}, the system monitor in
 * {@link INIT_MONITOR_SLOT}, and the console input device's PMO and IRQ in
 * {@link INIT_CONSOLE_IN_SLOT} and {@link INIT_CONSOLE_IN_IRQ_SLOT}.
 *
 * @module
 */

import { assert } from "./errors.ts";
import { CAP_SLOTS_MAX } from "./limits.ts";

/** Slots with a fixed meaning in every cap group. */
export enum Slot {
  /** The cap group's own capability. */
  GROUP = 0,
  /** The capability of the group's first thread. */
  THREAD = 1,
  /** The slot record (servers/runtime/names.ts), when the parent granted one. */
  RECORD = CAP_SLOTS_MAX - 1,
}

/** First slot a parent grants named capabilities into. */
export const GRANTED_FIRST_SLOT = 2;
/** Slot of the timer IRQ in the root task's cap group (the kernel puts it there at boot). */
export const INIT_TIMER_IRQ_SLOT = 2;
/** Slot of the NIC's transmit ring (a PMO, kernel/nic.ts) in the root task's cap group. */
export const INIT_NIC_TX_SLOT = 3;
/** Slot of the NIC's receive PMO (ring and connection table, kernel/abi/nic_rx.ts) in the root task's cap group. */
export const INIT_NIC_RX_SLOT = 4;
/** Slot of the NIC's IRQ (raised when the receive ring has new frames) in the root task's cap group. */
export const INIT_NIC_IRQ_SLOT = 5;
/** Slot of the system monitor (kernel/objects/monitor.ts) in the root task's cap group. */
export const INIT_MONITOR_SLOT = 6;
/** Slot of the console input device's PMO (kernel/abi/console_in.ts) in the root task's cap group. */
export const INIT_CONSOLE_IN_SLOT = 7;
/** Slot of the console input device's IRQ (raised when a typed line is in its ring) in the root task's cap group. */
export const INIT_CONSOLE_IN_IRQ_SLOT = 8;
/** Key of a thread's start args that holds its named capabilities (name → slot). */
export const CAPS_ARG = "caps";

assert(GRANTED_FIRST_SLOT > Slot.THREAD, "slots", "granted capabilities follow the kernel's");
assert(Slot.RECORD > GRANTED_FIRST_SLOT, "slots", "the slot record sits above the granted slots");
