/**
 * The NIC, the kernel's side: its two PMOs and its IRQ.
 *
 * - The transmit ring (role "nic", in the console ring's format,
 *   kernel/abi/nic.ts), in init's INIT_NIC_TX_SLOT: the kernel hands it to
 *   the board with a device register (RELEASED) as it does a console and
 *   records its HEAD at each freeze; the board sends the frames up to it to
 *   the switch when that checkpoint commits.
 * - The receive PMO (role "nic-rx", kernel/abi/nic_rx.ts), in
 *   INIT_NIC_RX_SLOT: a connection table the driver writes and a ring the
 *   board writes frames into. The kernel copies the table at each freeze;
 *   the board acts on the copy once it commits (ACK, LISTEN), and after a
 *   resume gets the committed table to say HELLO with.
 * - The IRQ (line "nic"), in INIT_NIC_IRQ_SLOT: the board raises it after
 *   writing frames; it signals the notification bound to it.
 *
 * Init grants all three to the network driver; mapping either PMO
 * (`pmo_map`) also returns its device register.
 *
 * @module
 */

import { consoleHead, newConsoleRegister, resendFrom } from "./abi/console.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import { newNicRxRegister, NIC_RX_PAGES, NIC_TABLE_BYTES, nicTableBytes } from "./abi/nic_rx.ts";
import type { KernelToBoard } from "./abi/protocol.ts";
import { CONSOLE_PAGES } from "./objects/thread.ts";
import { ObjKind, type PmoRecord } from "./objects/records.ts";
import type { PmoManager } from "./memory.ts";
import type { ObjectTable } from "./object_table.ts";

/** A ring the NIC uses: its PMO, buffers and device register. */
interface NicRing {
  pmoId: number;
  ring: PmoBuffers;
  register: SharedArrayBuffer;
}

/** The NIC's PMOs as the kernel keeps them. */
export class NicDevice {
  private tx: NicRing | undefined;
  private rx: NicRing | undefined;
  /** The two buffers {@link table} copies into, in turn. */
  private tableCopies: Uint8Array[] = [];
  private tableTurn = 0;

  constructor(private readonly post: (msg: KernelToBoard) => void) {}

  /** Fresh boot: makes both PMOs in cap group `owner` and hands them to the board. */
  async create(pmos: PmoManager, owner: number): Promise<{ tx: PmoRecord; rx: PmoRecord }> {
    const tx = pmos.create(CONSOLE_PAGES, "nic", owner);
    const rx = pmos.create(NIC_RX_PAGES, "nic-rx", owner);
    this.attachTx(tx.id, await pmos.ensureLoaded(tx.id), false);
    this.attachRx(rx.id, await pmos.ensureLoaded(rx.id), false);
    return { tx, rx };
  }

  /**
   * Resume: hands the restored PMOs to the board. The transmit ring comes
   * with RELEASED at its oldest frame: everything in it is committed, so the
   * board sends it all again (the switch drops what its clients already
   * have). The receive ring starts empty, with the committed table. An image
   * without them (made before the NIC had them) has none.
   */
  async resume(table: ObjectTable, pmos: PmoManager): Promise<void> {
    for (const pmo of table.ofKind(ObjKind.PMO)) {
      if (pmo.role === "nic") this.attachTx(pmo.id, await pmos.ensureLoaded(pmo.id), true);
      if (pmo.role === "nic-rx") this.attachRx(pmo.id, await pmos.ensureLoaded(pmo.id), true);
    }
  }

  private attachTx(pmoId: number, ring: PmoBuffers, resumed: boolean): void {
    const register = newConsoleRegister(resumed ? resendFrom(ring) : consoleHead(ring));
    this.tx = { pmoId, ring, register };
    const committedHead = resumed ? consoleHead(ring) : undefined;
    this.post({ t: "nic-tx", ring, register, committedHead });
  }

  private attachRx(pmoId: number, ring: PmoBuffers, resumed: boolean): void {
    this.rx = { pmoId, ring, register: newNicRxRegister() };
    this.tableCopies = [new Uint8Array(NIC_TABLE_BYTES), new Uint8Array(NIC_TABLE_BYTES)];
    const committedTable = resumed ? nicTableBytes(ring) : undefined;
    this.post({ t: "nic-rx", ring, register: this.rx.register, committedTable });
  }

  /** The device register a mapping of PMO `pmoId` comes with, if it is one of the NIC's. */
  registerOf(pmoId: number): SharedArrayBuffer | undefined {
    if (pmoId === this.tx?.pmoId) return this.tx.register;
    if (pmoId === this.rx?.pmoId) return this.rx.register;
    return undefined;
  }

  /** True when PMO `pmoId` is the transmit ring (its bytes leave the machine). */
  isTransmit(pmoId: number): boolean {
    return pmoId === this.tx?.pmoId;
  }

  /** The transmit ring's HEAD now (at the freeze), if there is a ring. */
  head(): number | undefined {
    return this.tx ? consoleHead(this.tx.ring) : undefined;
  }

  /**
   * A copy of the connection table now (at the freeze), if there is a
   * receive PMO. The copies alternate between two buffers made once (no
   * allocation in the pause), so a copy holds until the next-but-one call:
   * the checkpoint posts it (a structured clone) within its own cut.
   */
  table(): Uint8Array | undefined {
    if (!this.rx) return undefined;
    this.tableTurn ^= 1;
    return nicTableBytes(this.rx.ring, this.tableCopies[this.tableTurn]);
  }
}
