/**
 * A small seeded PRNG (splitmix32) for scenarios, tests and the fault
 * injector (servers/runtime/faults.ts): one seed decides every random
 * choice, so a printed seed replays a run. Never Math.random.
 *
 * @module
 */

/** Deterministic pseudo-random numbers from a 32-bit seed. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned value. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + (this.nextU32() % (max - min + 1));
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.nextU32() % items.length];
  }
}

/** A seed from the clock, for runs that were not given one. */
export function freshSeed(): number {
  return (Date.now() ^ (performance.now() * 1000)) >>> 0;
}
