/**
 * The root of a committed checkpoint: what the kernel's checkpoint manager
 * writes (kernel/checkpoint.ts) and the board commits to the image's
 * superblock and reads back at boot (hw/board.ts).
 *
 * Map of this file:
 * - {@link KERNEL_PMO_PAGES}: the size of the kernel memory object, which
 *   every image holds; an image made for another size is refused at boot.
 * - {@link CheckpointRoot}: the root blob, stored as JSON.
 *
 * @module
 */

import { PAGE_BYTES, RECORD_BYTES, RECORDS_MAX } from "./limits.ts";

/** Pages of the kernel memory object: one RECORD_BYTES slot per record id. */
export const KERNEL_PMO_PAGES = (RECORDS_MAX * RECORD_BYTES) / PAGE_BYTES;

/** What the superblock's root blob holds. */
export interface CheckpointRoot {
  epoch: number;
  kernelPages: number;
  /** Kernel pages that can hold records (the rest are empty): all a resume needs to read. */
  kernelPagesUsed: number;
  nvmPages: number;
  takenAtMs: number;
}
