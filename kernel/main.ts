/**
 * Entry point of the kernel worker. The board posts "boot"; the kernel
 * answers with stage timings, "ready", checkpoint captures and console
 * rings, and serves system calls from the workers it starts.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import type { BoardToKernel } from "./abi/protocol.ts";
import type { ToBoard } from "./abi/report.ts";
import { Kernel } from "./kernel.ts";

let kernel: Kernel | undefined;

function toBoard(msg: ToBoard, transfer?: Transferable[]): void {
  self.postMessage(msg, { transfer: transfer ?? [] });
}

/**
 * The command port's `checkpoint-now` (the dashboard's button): a checkpoint
 * cut now, and once it has committed the `checkpoint-now` event with its
 * figures, as the monitor's `checkpoint_now` call sends.
 */
function checkpointNow(k: Kernel): void {
  if (k.checkpoints.period === 0) {
    return k.log("kernel: checkpoint-now refused: checkpoints are off (checkpoint-ms 0)");
  }
  k.checkpoints.waitCovering(true).then((epoch) => {
    const stats = k.checkpoints.committed(epoch);
    const figures = stats
      ? `: pause ${stats.pauseUs.toFixed(0)} us, commit ${stats.commitUs.toFixed(0)} us, ` +
        `${stats.dirtyPages} pages`
      : "";
    k.event("checkpoint-now", "command-port", `checkpoint ${epoch} taken on request${figures}`);
  });
}

self.onmessage = (e: MessageEvent<BoardToKernel>) => {
  const msg = e.data;
  switch (msg.t) {
    case "boot": {
      const t0 = performance.now();
      const restored = msg.kernelData
        ? { data: msg.kernelData, pagesUsed: msg.kernelPagesUsed }
        : undefined;
      kernel = new Kernel(msg.config, toBoard, restored, msg.epoch);
      msg.timerPort.onmessage = () => kernel!.onTick(performance.now());
      toBoard({ t: "stage", name: "kernel: object table loaded", ms: performance.now() - t0 });
      const t1 = performance.now();
      const started = msg.fresh ? kernel.bootFresh() : kernel.resume();
      started.then(() => {
        kernel!.finishBoot();
        toBoard({
          t: "stage",
          name: msg.fresh
            ? "kernel: root task started"
            : "kernel: objects restored, workers started",
          ms: performance.now() - t1,
        });
      });
      break;
    }
    case "checkpoint-ms":
      kernel?.checkpoints.setPeriod(msg.ms);
      break;
    case "checkpoint-now":
      if (kernel) checkpointNow(kernel);
      break;
    case "committed":
      kernel?.checkpoints.recycle(msg.staging);
      kernel?.checkpoints.onCommitted(msg.epoch);
      break;
    case "loaded":
      kernel?.onLoaded(msg.reqId);
      break;
    case "worker-failed":
      kernel?.onWorkerError(msg.threadId, msg.message);
      break;
    case "inject":
      kernel?.onInject(msg.target, msg.fault, msg.seed);
      break;
    case "nic-irq":
      kernel?.onNicIrq();
      break;
    case "console-input":
      kernel?.onConsoleInput(msg.text, msg.seq);
      break;
    case "shutdown":
      if (kernel) kernel.shutdown();
      else toBoard({ t: "shutdown-done" });
      break;
  }
};
