/**
 * The inspector's text report: one section per part of the image, aligned
 * columns, the capability tree drawn with ├─ └─, every long listing cut at
 * `limit` lines with a line saying how many were left out.
 *
 * Map of this file: {@link renderReport}, then one function per section,
 * and the helpers {@link table} and {@link drawTree}.
 *
 * @module
 */

import type { CapNode } from "./kernel.ts";
import type { InspectReport } from "./report.ts";

/** The whole text report; `limit` bounds each listing. */
export function renderReport(r: InspectReport, limit: number): string {
  const out: string[] = [];
  const head = (t: string) => out.push("", `== ${t} ==`);
  out.push(`image ${r.path} (${r.fileBytes} bytes): ${verdictLine(r)}`);
  if (r.problems.length > 0) {
    head("problems");
    for (const p of r.problems) out.push(`  ${p.where}: ${p.what}`);
  }
  if (r.leftovers.length > 0) {
    head("leftovers (ignored by recovery; not damage)");
    for (const l of r.leftovers) out.push(`  ${l}`);
  }
  head("superblocks");
  out.push(...superblocks(r));
  if (r.slots) {
    head("slots");
    out.push(...slots(r));
  }
  if (r.kernel) {
    head("kernel objects");
    out.push(...kernel(r, limit));
    head("capability tree");
    out.push(...cut(drawTree(r.capTree ?? []), limit));
  }
  if (r.memory) {
    head("memory objects");
    out.push(...memory(r, limit));
  }
  if (r.fs) {
    head("file system");
    out.push(...fileSystem(r));
  }
  if (r.kv) {
    head("kv store");
    out.push(...kv(r));
  }
  return out.join("\n") + "\n";
}

function verdictLine(r: InspectReport): string {
  const at = r.committed ? `committed epoch ${r.committed.epoch}` : "no committed state";
  if (r.verdict === "sound") return `sound, ${at}`;
  return `DAMAGED (${r.problems.length} problem(s)), ${at}`;
}

function superblocks(r: InspectReport): string[] {
  const rows = r.superblocks.map((s) => [
    `slot ${s.slot}`,
    s.valid ? "valid" : "invalid",
    s.epoch === undefined ? "" : `epoch ${s.epoch}`,
    s.liveSlots === undefined ? "" : `${s.liveSlots} live pages`,
    s.liveSum === undefined ? "" : `sum 0x${s.liveSum.toString(16)}`,
    s.valid ? (r.committed?.superblock === s.slot ? "<- committed" : "") : s.problem,
  ]);
  const lines = table(rows);
  const c = r.committed;
  if (c) {
    lines.push(
      `  ${c.pageCount} pages of NVM, formatted ${c.createdAt}` +
        (c.takenAt ? `, checkpoint taken ${c.takenAt}` : ""),
    );
  }
  return lines;
}

function slots(r: InspectReport): string[] {
  const s = r.slots!;
  return table([
    ["pages with a committed version", String(s.livePages)],
    ["older versions kept", String(s.olderVersions)],
    ["slots of an uncommitted checkpoint", String(s.uncommitted)],
    ["headers with a bad crc", String(s.badHeaders)],
    ["slots whose data crc was checked", String(s.slotsVerified)],
  ]);
}

function kernel(r: InspectReport, limit: number): string[] {
  const k = r.kernel!;
  const lines = [
    `  ${k.records} records: ` +
    Object.entries(k.byKind).map(([kind, n]) => `${n} ${kind}`).join(", "),
    "",
    ...table([
      ["cap group", "id", "pages used/quota", "objects used/quota"],
      ...k.groups.map((g) => [
        g.name,
        `#${g.id}`,
        `${g.usedPages}/${g.quotaPages}`,
        `${g.usedObjects}/${g.quotaObjects}`,
      ]),
    ]),
    "",
    ...cut(
      table([
        ["thread", "group", "program", "policy", "restarts"],
        ...k.threads.map((t) => [`#${t.id}`, t.group, t.program, t.policy, String(t.restarts)]),
      ]),
      limit + 1,
    ),
  ];
  return lines;
}

function memory(r: InspectReport, limit: number): string[] {
  const m = r.memory!;
  const n = m.nvm;
  const lines = [
    `  NVM: ${n.pages} pages: kernel ${n.kernelPages}, memory objects ${n.pmoPages}, ` +
    `free ${n.freePages}; ${n.pagesWritten} pages hold a committed version, ` +
    `${n.olderVersions} an older one too`,
    "",
    ...cut(
      table([
        ["pmo", "role", "owner", "kept as", "pages", "nvm pages", "written"],
        ...m.pmos.map((p) => [
          `#${p.id}`,
          p.role,
          p.owner,
          p.kept,
          String(p.pages),
          `${p.nvmBase}..${p.nvmBase + p.pages - 1}`,
          String(p.pagesWritten),
        ]),
      ]),
      limit + 1,
    ),
  ];
  const a = m.allocator;
  if (a) {
    lines.push("", "  memory server allocator:");
    if (a.heap === "absent") lines.push("    object heap: absent");
    else {
      const s = a.heap.stats;
      lines.push(
        `    object heap (PMO #${a.heap.pmo}): ${s.liveObjects} objects, ${s.names} names, ` +
          `${s.owners} owners; ${s.freePages} of ${s.dataPages} data pages free ` +
          `(${s.slabPages} slab, ${s.largePages} large); check ${a.heap.check}`,
      );
    }
    if (a.frames === "absent") lines.push("    frame pool: absent");
    else {
      const s = a.frames.stats;
      lines.push(
        `    frame pool (PMO #${a.frames.pmo}, LLFree): ${s.freePages} of ${s.pages} pages ` +
          `free, ${s.hugeFrames} huge frames, ${s.owners} owners; check ${a.frames.check}`,
      );
    }
  }
  return lines;
}

function fileSystem(r: InspectReport): string[] {
  const f = r.fs!;
  if (f.state !== "ok") return [`  ${f.state}`];
  const s = f.space;
  const lines = [
    `  ${f.files} files (${f.fileBytes} bytes), ${f.dirs} directories, ${f.symlinks} symlinks; ` +
    `${s.freeBlocks} of ${s.totalBlocks} blocks free, ${s.inodes} inodes, metadata ` +
    `${s.metadataBytes} of ${s.metadataCapacity} bytes`,
    "  /",
  ];
  const rows = f.entries.map((e) => [
    `${"  ".repeat(e.depth)}${e.path.slice(e.path.lastIndexOf("/") + 1)}` +
    (e.kind === "dir" ? "/" : e.kind === "symlink" ? "@" : ""),
    e.kind,
    e.kind === "dir" ? `${e.size} entries` : `${e.size} bytes`,
  ]);
  lines.push(...table(rows));
  if (f.truncated) lines.push("  … (more below --depth or past --limit; --json lists the same)");
  return lines;
}

function kv(r: InspectReport): string[] {
  const k = r.kv!;
  if (k.state !== "ok") return [`  ${k.state}`];
  const per = Object.entries(k.keys).map(([db, n]) => `db${db} ${n}`).join(", ");
  return [
    `  ${k.totalKeys} keys${per ? ` (${per})` : ""}; heap ${k.usedBytes} of ${k.capacityBytes} ` +
    `bytes used`,
  ];
}

/** Rows as lines of left-aligned columns, two spaces apart, indented by two. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((row) =>
    "  " + row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()
  );
}

/** The capability forest, one line per capability, children under their parent. */
export function drawTree(roots: CapNode[]): string[] {
  const out: string[] = [];
  const line = (n: CapNode) =>
    `cap #${n.cap.id} ${n.group}[${n.cap.slot}] -> ${n.object} ${n.rights}` +
    (n.cap.badge !== 0 ? ` badge ${n.cap.badge}` : "");
  const visit = (n: CapNode, prefix: string, last: boolean, top: boolean) => {
    out.push("  " + (top ? "" : prefix + (last ? "└─ " : "├─ ")) + line(n));
    const next = top ? "" : prefix + (last ? "   " : "│  ");
    n.children.forEach((c, i) => visit(c, next, i === n.children.length - 1, false));
  };
  roots.forEach((r) => visit(r, "", true, true));
  return out;
}

/** The first `limit` lines, and a line saying how many more there were. */
function cut(lines: string[], limit: number): string[] {
  if (lines.length <= limit) return lines;
  return [
    ...lines.slice(0, limit),
    `  … ${lines.length - limit} more (raise --limit, or --json for all)`,
  ];
}
