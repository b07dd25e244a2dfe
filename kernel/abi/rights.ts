/**
 * Capability rights as bit flags, and the default rights of each object kind.
 *
 * A derived capability (copy or mint) may only have a subset of its parent's
 * rights. Each system call names the one right it needs (see
 * docs/KERNEL_OBJECTS.md).
 *
 * @module
 */

/** Rights bits carried by a capability. */
export enum Right {
  /** Map a memory object for reading; wait on a notification; inspect an object. */
  READ = 1 << 0,
  /** Map a memory object writable; change an object (cap group, thread). */
  WRITE = 1 << 1,
  /** Pass this capability on (copy, mint, grant into another cap group). */
  GRANT = 1 << 2,
  /** Open a connection to an endpoint and call it. */
  CALL = 1 << 3,
  /** Serve an endpoint: accept its connections and receive its messages. */
  RECEIVE = 1 << 4,
  /** Signal a notification. */
  SEND = 1 << 5,
}

/** Every right. */
export const RIGHTS_ALL = Right.READ | Right.WRITE | Right.GRANT | Right.CALL | Right.RECEIVE |
  Right.SEND;

/** True when `rights` holds every bit of `needed`. */
export function hasRights(rights: number, needed: number): boolean {
  return (rights & needed) === needed;
}

/** True when `child` asks for no right that `parent` lacks. */
export function isSubset(child: number, parent: number): boolean {
  return (child & ~parent) === 0;
}

/** Human-readable rights, e.g. `"RWG-C--"` style flags `"read|write|grant"`. */
export function rightsToString(rights: number): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(Right)) {
    if (typeof bit === "number" && (rights & bit) !== 0) names.push(name.toLowerCase());
  }
  return names.length === 0 ? "none" : names.join("|");
}
