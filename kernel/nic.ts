/**
 * The NIC's transmit ring, the kernel's side: one PMO (role "nic", in the
 * console ring's format, kernel/abi/nic.ts) made at a fresh boot, whose
 * capability init holds in INIT_NIC_TX_SLOT and grants to the network
 * driver. The kernel hands the ring to the board with a device register
 * (RELEASED) as it does a console, gives the driver that register when it
 * maps the ring, and records the ring's HEAD at each freeze: the board sends
 * the frames up to it to the switch when that checkpoint commits.
 *
 * @module
 */

import { consoleHead, newConsoleRegister, resendFrom } from "./abi/console.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import type { KernelToBoard } from "./abi/protocol.ts";
import { CONSOLE_PAGES } from "./objects/thread.ts";
import { ObjKind, type PmoRecord } from "./objects/records.ts";
import type { PmoManager } from "./memory.ts";
import type { ObjectTable } from "./object_table.ts";

/** The transmit ring and its device register. */
export class NicTxRing {
  private pmoId = 0;
  private ring: PmoBuffers | undefined;
  private register: SharedArrayBuffer | undefined;

  constructor(private readonly post: (msg: KernelToBoard) => void) {}

  /** Fresh boot: makes the ring in cap group `owner` and hands it to the board. */
  async create(pmos: PmoManager, owner: number): Promise<PmoRecord> {
    const pmo = pmos.create(CONSOLE_PAGES, "nic", owner);
    this.attach(pmo.id, await pmos.ensureLoaded(pmo.id), false);
    return pmo;
  }

  /**
   * Resume: hands the restored ring to the board with RELEASED at its oldest
   * frame; everything in it is committed, so the board sends it all again
   * (the switch drops what its clients already have). An image without a
   * ring (made before the NIC had one) has none.
   */
  async resume(table: ObjectTable, pmos: PmoManager): Promise<void> {
    const pmo = [...table.ofKind(ObjKind.PMO)].find((p) => p.role === "nic");
    if (pmo) this.attach(pmo.id, await pmos.ensureLoaded(pmo.id), true);
  }

  private attach(pmoId: number, ring: PmoBuffers, resumed: boolean): void {
    this.pmoId = pmoId;
    this.ring = ring;
    this.register = newConsoleRegister(resumed ? resendFrom(ring) : consoleHead(ring));
    const committedHead = resumed ? consoleHead(ring) : undefined;
    this.post({ t: "nic-tx", ring, register: this.register, committedHead });
  }

  /** The device register a mapping of PMO `pmoId` comes with, if it is the ring. */
  registerOf(pmoId: number): SharedArrayBuffer | undefined {
    return pmoId === this.pmoId ? this.register : undefined;
  }

  /** The ring's HEAD now (at the freeze), if there is a ring. */
  head(): number | undefined {
    return this.ring ? consoleHead(this.ring) : undefined;
  }
}
