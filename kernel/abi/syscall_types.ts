/**
 * What system calls return, where a caller sees more than a number or a
 * connection: the typed stubs (servers/runtime/sys.ts) promise these, and
 * the handlers in kernel/objects/ and kernel/syscalls.ts build them.
 *
 * Map of this file:
 * - {@link CapInfo}: `cap_info`, `cap_list`.
 * - {@link MappedPmo}: `pmo_map`.
 * - {@link SystemInfo}: `system_info`.
 * - {@link CheckpointInfo}: `checkpoint_info`.
 *
 * @module
 */

import type { PmoBuffers } from "./layout.ts";

/** What a capability looks like to its holder. */
export interface CapInfo {
  slot: number;
  kind: string;
  rights: number;
  badge: number;
  object: number;
}

/** A mapping as the caller's runtime receives it. */
export interface MappedPmo {
  buffers: PmoBuffers;
  pages: number;
  writable: boolean;
  /** The NIC transmit ring's device register (RELEASED), when the PMO is that ring. */
  register?: SharedArrayBuffer;
  /**
   * True when the PMO is a ring whose bytes leave the machine (the NIC's
   * transmit ring): the program loop tells the kernel when its HEAD moves.
   */
  output?: boolean;
}

/** What `system_info` reports. */
export interface SystemInfo {
  epoch: number;
  objects: number;
  threads: number;
  pmos: number;
  checkpoints: Record<string, number>;
  threadId: number;
  capGroupId: number;
  /** The caller's cap group: pages and kernel objects charged to it, and its quotas. */
  usage: { usedPages: number; quotaPages: number; usedObjects: number; quotaObjects: number };
}

/** What `checkpoint_info` reports: the checkpoint figures a program may show (INFO persistence). */
export interface CheckpointInfo {
  /** Milliseconds between checkpoints now; 0: off. */
  periodMs: number;
  /** Checkpoints committed since this boot. */
  committed: number;
  /** Wall-clock time (Unix ms) the newest checkpoint of this boot committed; 0 before the first. */
  lastCommitUnixMs: number;
  /** Stop-the-world pause of the newest checkpoint taken, in microseconds; 0 before the first. */
  lastPauseUs: number;
}
