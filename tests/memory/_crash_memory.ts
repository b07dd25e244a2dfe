/**
 * A PersistentMemory that "loses power" after a given number of writes:
 * the write that would exceed the budget throws {@link Crash} without
 * happening, and so does every later write. The buffers then hold exactly
 * what an unclean stop between two writes leaves behind.
 *
 * @module
 */

import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";

/** Thrown by a {@link CrashingMemory} write once the budget is used up. */
export class Crash extends Error {
  constructor() {
    super("simulated crash");
    this.name = "Crash";
  }
}

/** PersistentMemory whose writes stop (throwing {@link Crash}) after `budget` of them. */
export class CrashingMemory extends PersistentMemory {
  /** Writes left before the crash; Infinity: never. */
  budget = Infinity;
  /** Writes done so far. */
  writes = 0;
  /** True once the crash happened. */
  crashed = false;

  constructor(buffers: PmoBuffers) {
    super(buffers);
  }

  private tick(): void {
    if (this.crashed || this.budget <= 0) {
      this.crashed = true;
      throw new Crash();
    }
    this.budget--;
    this.writes++;
  }

  override write(offset: number, src: Uint8Array): void {
    this.tick();
    super.write(offset, src);
  }
  override fill(offset: number, length: number, value = 0): void {
    this.tick();
    super.fill(offset, length, value);
  }
  override setU8(offset: number, value: number): void {
    this.tick();
    super.setU8(offset, value);
  }
  override setU32(offset: number, value: number): void {
    this.tick();
    super.setU32(offset, value);
  }
  override setF64(offset: number, value: number): void {
    this.tick();
    super.setF64(offset, value);
  }
  override atomicStore(index: number, value: number): void {
    this.tick();
    super.atomicStore(index, value);
  }
  override atomicAdd(index: number, delta: number): number {
    this.tick();
    return super.atomicAdd(index, delta);
  }
  override atomicCas(index: number, expected: number, replacement: number): number {
    this.tick();
    return super.atomicCas(index, expected, replacement);
  }
  override atomicOr(index: number, bits: number): number {
    this.tick();
    return super.atomicOr(index, bits);
  }
  override atomicAnd(index: number, bits: number): number {
    this.tick();
    return super.atomicAnd(index, bits);
  }
}

/** Copies the data buffer (a snapshot, as an image would hold it) into fresh PMO buffers. */
export function snapshot(buffers: PmoBuffers, id = buffers.id): PmoBuffers {
  const data = new SharedArrayBuffer(buffers.data.byteLength);
  new Int32Array(data).set(new Int32Array(buffers.data));
  return {
    id,
    data,
    pageState: new SharedArrayBuffer(buffers.pageState.byteLength),
    backup: new SharedArrayBuffer(buffers.backup.byteLength),
    dirtySummary: new SharedArrayBuffer(buffers.dirtySummary.byteLength),
  };
}
