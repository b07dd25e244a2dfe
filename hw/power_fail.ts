/**
 * Power-failure mode of the board (`--power-fail STEP:INDEX[@EPOCH]`): one
 * fault (power failure before, during or after a write, a torn write, a lost
 * write, an I/O error) injected into one write of one checkpoint, through
 * the image's own writer (hw/nvm_writer.ts).
 *
 * @module
 */

import type { NvmImage, PersistStep, WriteFault, WriteKind } from "./nvm_image.ts";

/**
 * Where power-failure mode injects its fault: `step` is the kind of write and
 * the fault ("data-torn"), at the `index`-th write of that kind of checkpoint
 * `epoch`.
 */
export interface PowerFailSpec {
  step: PersistStep;
  index: number;
  /** Fires at the first checkpoint with this epoch or later. */
  epoch: number;
}

/**
 * Before checkpoint `epoch` is written: if `spec` fires at this epoch,
 * installs on `image` a fault hook that injects its fault into its write,
 * once, and says so through `log` as it does.
 */
export function armPowerFail(
  image: NvmImage,
  spec: PowerFailSpec | undefined,
  epoch: number,
  log: (text: string) => void,
): void {
  if (!spec || epoch < spec.epoch) return;
  const [kind, fault] = spec.step.split("-") as [WriteKind, WriteFault];
  image.faultHook = (write, index) => {
    if (write !== kind || index !== spec.index) return;
    log(`board: injecting ${spec.step} at write #${index} of epoch ${epoch}`);
    image.faultHook = undefined; // once
    return fault;
  };
}
