/**
 * The memory tests' view of the project's PRNG (kernel/abi/prng.ts): the
 * same splitmix32 sequence, drawn as floats and as integers below a bound,
 * so a failing seed printed in a test name reproduces the run.
 *
 * @module
 */

import { freshSeed, Prng as Splitmix32 } from "../../kernel/abi/prng.ts";

/** Deterministic 32-bit generator. */
export class Prng {
  private readonly source: Splitmix32;

  constructor(readonly seed: number) {
    this.source = new Splitmix32(seed);
  }

  /** Next unsigned 32-bit value. */
  next(): number {
    return this.source.nextU32();
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

/** A seed that differs per run (shown in test names so a failure can be replayed). */
export const runSeed: () => number = freshSeed;
