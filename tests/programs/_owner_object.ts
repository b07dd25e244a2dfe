/**
 * The named memory object tests/programs/owner.ts makes and
 * tests/programs/hostile.ts attacks.
 *
 * @module
 */

/** Its name at the memory server. */
export const OWNER_OBJECT = "owner:file";
/** What it holds. */
export const OWNER_BYTES = "not yours";
