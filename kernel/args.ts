/**
 * Argument decoding for system calls: each decoder checks one argument and
 * throws E_BAD_ARGUMENT naming the call, the argument and the allowed range.
 * Decoders change nothing (decode, then invoke).
 *
 * @module
 */

import { Err, TardigradeError } from "./abi/errors.ts";
import { RIGHTS_ALL } from "./abi/rights.ts";

/**
 * A worker-sent value, described for an error message without running any
 * conversion that can throw: `String({ toString: 1 })`, `JSON.stringify(1n)`
 * and a cyclic object all would, turning a bad argument into E_INTERNAL.
 */
export function describeArg(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.slice(0, 80));
  if (v === null || v === undefined || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "an array" : "an object";
}

/** Argument `index` of `call` as an integer in [min, max]; `fallback` when absent. */
export function intArg(
  call: string,
  args: unknown[],
  index: number,
  name: string,
  min: number,
  max: number,
  fallback?: number,
): number {
  const v = args[index] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new TardigradeError(
      Err.E_BAD_ARGUMENT,
      `${call}: argument ${name} must be an integer in ${min}…${max}, got ${describeArg(v)}`,
      { argument: name, value: describeArg(v) },
    );
  }
  return v;
}

/** An optional integer argument: undefined when absent or null. */
export function optIntArg(
  call: string,
  args: unknown[],
  index: number,
  name: string,
  min: number,
  max: number,
): number | undefined {
  return args[index] === undefined || args[index] === null
    ? undefined
    : intArg(call, args, index, name, min, max);
}

/** A rights mask argument; `fallback` when absent. */
export function rightsArg(call: string, args: unknown[], index: number, fallback: number): number {
  return intArg(call, args, index, "rights", 0, RIGHTS_ALL, fallback);
}

/** A string argument of 1…maxLength characters matching `pattern`. */
export function stringArg(
  call: string,
  args: unknown[],
  index: number,
  name: string,
  maxLength: number,
  pattern: RegExp,
): string {
  const v = args[index];
  if (typeof v !== "string" || v.length === 0 || v.length > maxLength || !pattern.test(v)) {
    throw new TardigradeError(
      Err.E_BAD_ARGUMENT,
      `${call}: argument ${name} must be a string of 1…${maxLength} characters matching ${pattern}, got ${
        describeArg(v)
      }`,
      { argument: name },
    );
  }
  return v;
}

/** A plain JSON object argument whose encoding is at most `maxBytes`. */
export function objectArg(
  call: string,
  args: unknown[],
  index: number,
  name: string,
  maxBytes: number,
): Record<string, unknown> {
  const v = args[index] ?? {};
  let json: string | undefined;
  try {
    json = typeof v === "object" && !Array.isArray(v) ? JSON.stringify(v) : undefined;
  } catch {
    json = undefined; // cyclic, a BigInt inside, or nested too deep: not a JSON object
  }
  if (json === undefined || json.length > maxBytes) {
    throw new TardigradeError(
      Err.E_BAD_ARGUMENT,
      `${call}: argument ${name} must be a JSON object of at most ${maxBytes} bytes`,
      { argument: name },
    );
  }
  return JSON.parse(json);
}

/** A boolean argument; `fallback` when absent. */
export function boolArg(
  call: string,
  args: unknown[],
  index: number,
  name: string,
  fallback: boolean,
): boolean {
  const v = args[index] ?? fallback;
  if (typeof v !== "boolean") {
    throw new TardigradeError(Err.E_BAD_ARGUMENT, `${call}: argument ${name} must be a boolean`, {
      argument: name,
    });
  }
  return v;
}
