/**
 * A small seeded PRNG for the memory tests (splitmix32): same seed, same
 * sequence, so a failing seed printed in a test name reproduces the run.
 *
 * @module
 */

/** Deterministic 32-bit generator. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Next unsigned 32-bit value. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
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
export function runSeed(): number {
  return (Date.now() ^ (performance.now() * 1000)) >>> 0;
}
