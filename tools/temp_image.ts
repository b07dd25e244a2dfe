/**
 * Temporary images for scenarios, benchmarks and tests: a fresh path in a
 * directory of its own (the machine may leave other files beside its
 * image), and its removal with that directory.
 *
 * @module
 */

/**
 * A fresh image path `…/tardigrade-LABEL-XXXX/LABEL.img` in a new temporary
 * directory; the file does not exist yet. Remove it with {@link removeImage}.
 *
 * @example
 * ```ts
 * const image = tempImage("crash");
 * try { ... } finally { removeImage(image); }
 * ```
 */
export function tempImage(label = "test"): string {
  const dir = Deno.makeTempDirSync({ prefix: `tardigrade-${label}-` });
  return `${dir}/${label}.img`;
}

/** The directory {@link tempImage} made for `image`. */
export function imageDir(image: string): string {
  return image.replace(/\/[^/]+$/, "");
}

/** Removes an image made by {@link tempImage}, with its directory; throws if it is gone already. */
export function removeImage(image: string): void {
  Deno.removeSync(imageDir(image), { recursive: true });
}
