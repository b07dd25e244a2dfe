/**
 * Server and connection commands: PING, ECHO, QUIT, HELLO, INFO, CONFIG
 * (GET, SET, RESETSTAT, REWRITE), COMMAND (COUNT, INFO, DOCS, LIST),
 * CLIENT (SETNAME, GETNAME, ID, SETINFO, LIST, INFO), DBSIZE, TIME,
 * LASTSAVE, SAVE, BGSAVE, WAIT, SELECT, SWAPDB, FLUSHDB, FLUSHALL, and
 * the CONFIG parameter table (defaults, which are settable, how values
 * are checked). SAVE and BGSAVE answer at once: every write is durable
 * when its reply leaves (the checkpoint covers it). WAIT answers 0 at
 * once: there are no replicas.
 *
 * @module
 */

import { DATABASES } from "../keyspace.ts";
import { type OutputWriter, parseInt64 } from "../resp.ts";
import type { Host, Session } from "../session.ts";
import {
  bytes,
  type CommandSpec,
  type Context,
  errorArg,
  intArg,
  isWord,
  lowerName,
  R_DB_RANGE,
  R_NOT_INTEGER,
  R_OK,
  R_SYNTAX,
  spec,
  STRING_MAX_BYTES,
  text,
} from "./context.ts";
import { globMatch } from "./glob.ts";

/** The Redis version the store answers as (HELLO, INFO): the one its replies follow. */
export const REDIS_VERSION = "7.0.15";
/** Share of the heap kept back from the default maxmemory, so metadata and buffers still fit. */
const MAXMEMORY_RESERVE_FRACTION = 1 / 16;

// ── CONFIG parameters ──

type Check = "memory" | "yesno" | "int" | "any" | readonly string[];

interface Param {
  name: string;
  /** Default, or a function of the host (maxmemory). */
  initial: string | ((h: Host) => string);
  /** How CONFIG SET checks a value; undefined: not settable. */
  check?: Check;
  /** Redis refuses to set it at run time ("can't set immutable config"). */
  immutable?: true;
}

const PARAMS: Param[] = [
  {
    name: "maxmemory",
    initial: (h) =>
      String(Math.floor(h.keyspace.capacityBytes() * (1 - MAXMEMORY_RESERVE_FRACTION))),
    check: "memory",
  },
  {
    name: "maxmemory-policy",
    initial: "noeviction",
    check: [
      // Redis's order, as its error lists them
      "volatile-lru",
      "volatile-lfu",
      "volatile-random",
      "volatile-ttl",
      "allkeys-lru",
      "allkeys-lfu",
      "allkeys-random",
      "noeviction",
    ],
  },
  { name: "maxmemory-samples", initial: "5", check: "int" },
  { name: "save", initial: "", check: "any" },
  { name: "appendonly", initial: "no", check: "yesno" },
  { name: "appendfsync", initial: "everysec", check: ["everysec", "always", "no"] },
  { name: "databases", initial: String(DATABASES), immutable: true },
  { name: "proto-max-bulk-len", initial: String(STRING_MAX_BYTES), check: "memory" },
  { name: "client-query-buffer-limit", initial: String(1024 * 1024 * 1024), check: "memory" },
  { name: "maxclients", initial: "10000", check: "int" },
  { name: "timeout", initial: "0", check: "int" },
  { name: "tcp-keepalive", initial: "300", check: "int" },
  { name: "hz", initial: "10", check: "int" },
  { name: "port", initial: (h) => String(h.port) },
  { name: "bind", initial: "* -::*" },
  { name: "protected-mode", initial: "no", check: "yesno" },
  { name: "loglevel", initial: "notice", check: ["debug", "verbose", "notice", "warning"] },
  { name: "daemonize", initial: "no", immutable: true },
  { name: "dir", initial: "/" },
  { name: "dbfilename", initial: "dump.rdb" },
  { name: "appendfilename", initial: "appendonly.aof", immutable: true },
  { name: "notify-keyspace-events", initial: "", check: "any" },
  { name: "slowlog-log-slower-than", initial: "10000", check: "int" },
  { name: "slowlog-max-len", initial: "128", check: "int" },
  { name: "lazyfree-lazy-user-del", initial: "no", check: "yesno" },
  { name: "lazyfree-lazy-user-flush", initial: "no", check: "yesno" },
  { name: "io-threads", initial: "1", immutable: true },
  { name: "cluster-enabled", initial: "no", immutable: true },
  { name: "replica-read-only", initial: "yes", check: "yesno" },
  { name: "list-max-listpack-size", initial: "-2", check: "int" },
  { name: "hash-max-listpack-entries", initial: "128", check: "int" },
  { name: "set-max-intset-entries", initial: "512", check: "int" },
  { name: "zset-max-listpack-entries", initial: "128", check: "int" },
  { name: "stop-writes-on-bgsave-error", initial: "yes", check: "yesno" },
];
const PARAM_BY_NAME = new Map(PARAMS.map((p) => [p.name, p]));

/** Puts every parameter's default into `host.config` where it has none (a fresh store). */
export function fillConfigDefaults(host: Host): void {
  for (const p of PARAMS) {
    if (!host.config.has(p.name)) {
      host.config.set(p.name, typeof p.initial === "string" ? p.initial : p.initial(host));
    }
  }
}

const numberCache = new Map<string, { text: string; value: number }>();

function configNumber(host: Host, name: string): number {
  const s = host.config.get(name) ?? "0";
  const hit = numberCache.get(name);
  if (hit !== undefined && hit.text === s) return hit.value;
  const value = Number(s);
  numberCache.set(name, { text: s, value });
  return value;
}

/** CONFIG maxmemory in bytes (0: no limit). */
export function maxMemoryOf(host: Host): number {
  return configNumber(host, "maxmemory");
}

/** CONFIG proto-max-bulk-len in bytes (the longest string value). */
export function protoMaxBulkLen(host: Host): number {
  return configNumber(host, "proto-max-bulk-len");
}

/** Redis's memtoull: "100", "1k", "1kb", "2mb", "1gb" (any case); undefined when not a memory value. */
export function parseMemory(s: string): number | undefined {
  const m = /^(\d+)([a-z]*)$/i.exec(s);
  if (m === null) return undefined;
  const units: Record<string, number> = {
    "": 1,
    b: 1,
    k: 1000,
    kb: 1024,
    m: 1000 * 1000,
    mb: 1024 * 1024,
    g: 1000 * 1000 * 1000,
    gb: 1024 * 1024 * 1024,
  };
  const unit = units[m[2].toLowerCase()];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

/** The stored form of `value` for `p`, or the reason Redis gives for refusing it. */
function checkValue(p: Param, value: string): { ok: string } | { why: string } {
  const check = p.check!;
  if (check === "any") return { ok: value };
  if (check === "memory") {
    const v = parseMemory(value);
    return v === undefined ? { why: "argument must be a memory value" } : { ok: String(v) };
  }
  if (check === "yesno") {
    const v = value.toLowerCase();
    return v === "yes" || v === "no" ? { ok: v } : { why: "argument must be 'yes' or 'no'" };
  }
  if (check === "int") {
    const v = parseInt64(bytes(value));
    return v === undefined
      ? { why: "argument couldn't be parsed into an integer" }
      : { ok: String(v) };
  }
  const v = value.toLowerCase();
  return check.includes(v)
    ? { ok: v }
    : { why: "argument(s) must be one of the following: " + check.join(", ") };
}

function configGet(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const found = new Map<string, string>();
  for (let i = 2; i < argv.length; i++) {
    const pattern = bytes(lowerName(argv[i]));
    for (const p of PARAMS) {
      if (!found.has(p.name) && globMatch(pattern, bytes(p.name))) {
        found.set(p.name, c.host.config.get(p.name) ?? "");
      }
    }
  }
  out.arrayHeader(found.size * 2);
  for (const [name, value] of found) {
    out.bulkString(name);
    out.bulkString(value);
  }
}

function configSet(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length % 2 !== 0) return out.raw(R_SYNTAX); // a name without its value (arity -4 took the rest)
  const changes: Array<[string, string]> = [];
  for (let i = 2; i < argv.length; i += 2) {
    const name = lowerName(argv[i]);
    const p = PARAM_BY_NAME.get(name);
    if (p?.immutable) {
      // Redis names the parameter as sent here, and by its own name after a bad value
      return out.error(
        `ERR CONFIG SET failed (possibly related to argument '${
          errorArg(argv[i])
        }') - can't set immutable config`,
      );
    }
    if (p === undefined || p.check === undefined) {
      return out.error(
        `ERR Unknown option or number of arguments for CONFIG SET - '${errorArg(argv[i])}'`,
      );
    }
    const r = checkValue(p, text(argv[i + 1]));
    if ("why" in r) {
      return out.error(
        `ERR CONFIG SET failed (possibly related to argument '${p.name}') - ${r.why}`,
      );
    }
    changes.push([name, r.ok]);
  }
  for (const [name, value] of changes) c.host.config.set(name, value);
  c.host.configChanged();
  out.raw(R_OK);
}

function okCommand(_c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.raw(R_OK);
}

// ── connection ──

const R_PONG = bytes("+PONG\r\n");

function ping(_c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length > 2) return out.error(`ERR wrong number of arguments for 'ping' command`);
  if (argv.length === 2) out.bulk(argv[1]);
  else out.raw(R_PONG);
}

function echo(_c: Context, argv: Uint8Array[], out: OutputWriter): void {
  out.bulk(argv[1]);
}

function quit(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  c.session.closing = true;
  out.raw(R_OK);
}

/** Client names and library names: printable ASCII without blanks. */
function isPlainName(b: Uint8Array): boolean {
  for (const ch of b) if (ch < 0x21 || ch > 0x7e) return false;
  return true;
}

function setName(c: Context, name: Uint8Array, out: OutputWriter): boolean {
  if (!isPlainName(name)) {
    out.error("ERR Client names cannot contain spaces, newlines or special characters.");
    return false;
  }
  c.session.name = text(name);
  return true;
}

function hello(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let j = 1;
  if (argv.length >= 2) {
    const ver = parseInt64(argv[1]);
    if (ver === undefined) {
      return out.error("ERR Protocol version is not an integer or out of range");
    }
    if (ver !== 2) return out.error("NOPROTO unsupported protocol version");
    j = 2;
  }
  let name: Uint8Array | undefined;
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    if (isWord(argv[j], "auth") && more >= 2) {
      if (!isWord(argv[j + 1], "default")) {
        return out.error("WRONGPASS invalid username-password pair or user is disabled.");
      }
      j += 2;
    } else if (isWord(argv[j], "setname") && more >= 1) {
      name = argv[++j];
    } else {
      return out.error(`ERR Syntax error in HELLO option '${errorArg(argv[j])}'`);
    }
  }
  if (name !== undefined && !setName(c, name, out)) return;
  out.arrayHeader(14);
  out.bulkString("server");
  out.bulkString("redis");
  out.bulkString("version");
  out.bulkString(REDIS_VERSION);
  out.bulkString("proto");
  out.integer(2);
  out.bulkString("id");
  out.integer(c.session.id);
  out.bulkString("mode");
  out.bulkString("standalone");
  out.bulkString("role");
  out.bulkString("master");
  out.bulkString("modules");
  out.arrayHeader(0);
}

function clientLine(s: Session, now: number): string {
  const age = Math.max(0, Math.floor((now - s.createdAt) / 1000));
  return `id=${s.id} addr=${s.addr} laddr=? fd=-1 name=${s.name} age=${age} idle=0 flags=N ` +
    `db=${s.db} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 ` +
    `rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=${s.lastCommand} user=default ` +
    `redir=-1 resp=2 lib-name=${s.libName} lib-ver=${s.libVersion}\n`;
}

function clientList(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  let s = "";
  for (const session of c.host.sessions()) s += clientLine(session, c.ks.now);
  out.bulkString(s);
}

function clientInfo(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.bulkString(clientLine(c.session, c.ks.now));
}

function clientSetName(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (setName(c, argv[2], out)) out.raw(R_OK);
}

function clientGetName(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  if (c.session.name === "") out.nullBulk();
  else out.bulkString(c.session.name);
}

function clientId(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.integer(c.session.id);
}

function clientSetInfo(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const isName = isWord(argv[2], "lib-name");
  if (!isName && !isWord(argv[2], "lib-ver")) {
    return out.error(`ERR Unrecognized option '${errorArg(argv[2])}'`);
  }
  if (!isPlainName(argv[3])) {
    return out.error(
      `ERR ${
        isName ? "lib-name" : "lib-ver"
      } cannot contain spaces, newlines or special characters.`,
    );
  }
  if (isName) c.session.libName = text(argv[3]);
  else c.session.libVersion = text(argv[3]);
  out.raw(R_OK);
}

// ── databases ──

function select(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const v = parseInt64(argv[1]);
  if (v === undefined || v < -2147483648 || v > 2147483647) return out.raw(R_NOT_INTEGER);
  if (v < 0 || v >= DATABASES) return out.raw(R_DB_RANGE);
  c.session.db = v;
  out.raw(R_OK);
}

function swapdb(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const a = parseInt64(argv[1]);
  if (a === undefined || a < -2147483648 || a > 2147483647) {
    return out.error("ERR invalid first DB index");
  }
  const b = parseInt64(argv[2]);
  if (b === undefined || b < -2147483648 || b > 2147483647) {
    return out.error("ERR invalid second DB index");
  }
  if (a < 0 || a >= DATABASES || b < 0 || b >= DATABASES) return out.raw(R_DB_RANGE);
  if (a !== b) c.ks.swap(a, b);
  out.raw(R_OK);
}

function flushMode(argv: Uint8Array[], out: OutputWriter): boolean {
  if (
    argv.length > 2 || (argv.length === 2 && !isWord(argv[1], "sync") && !isWord(argv[1], "async"))
  ) {
    out.raw(R_SYNTAX);
    return false;
  }
  return true;
}

function flushdb(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (!flushMode(argv, out)) return;
  c.ks.flush(c.session.db);
  out.raw(R_OK);
}

function flushall(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (!flushMode(argv, out)) return;
  for (let db = 0; db < DATABASES; db++) c.ks.flush(db);
  out.raw(R_OK);
}

function dbsize(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.integer(c.ks.size(c.session.db));
}

// ── time, persistence, replication ──

function time(_c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  out.arrayHeader(2);
  out.bulkString(String(Math.floor(us / 1e6)));
  out.bulkString(String(us % 1e6));
}

function lastsave(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  const p = c.host.persistence();
  out.integer(Math.floor((p.lastCommitUnixMs || c.host.startedAt) / 1000));
}

const R_BGSAVE = bytes("+Background saving started\r\n");

function bgsave(_c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length > 2 || (argv.length === 2 && !isWord(argv[1], "schedule"))) {
    return out.raw(R_SYNTAX);
  }
  out.raw(R_BGSAVE);
}

function wait(_c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (intArg(argv[1], out) === undefined) return;
  const timeout = parseInt64(argv[2]);
  if (timeout === undefined) return out.error("ERR timeout is not an integer or out of range");
  if (timeout < 0) return out.error("ERR timeout is negative");
  out.integer(0);
}

// ── INFO ──

function infoSection(c: Context, name: string): string | undefined {
  const h = c.host;
  const now = c.ks.now;
  const lines: string[] = [];
  const add = (k: string, v: string | number) => lines.push(`${k}:${v}`);
  switch (name) {
    case "server":
      add("redis_version", REDIS_VERSION);
      add("redis_mode", "standalone");
      add("os", "Tardigrade");
      add("arch_bits", 64);
      add("multiplexing_api", "tardigrade");
      add("process_id", 1);
      add("tcp_port", h.port);
      add("server_time_usec", now * 1000);
      add("uptime_in_seconds", Math.floor((now - h.startedAt) / 1000));
      add("uptime_in_days", Math.floor((now - h.startedAt) / 86400000));
      add("hz", h.config.get("hz") ?? "10");
      add("executable", "tardigrade-kv");
      break;
    case "clients":
      add("connected_clients", h.sessions().length);
      add("maxclients", h.config.get("maxclients") ?? "10000");
      add("blocked_clients", 0);
      break;
    case "memory": {
      const used = c.ks.usedBytes();
      add("used_memory", used);
      add("used_memory_human", human(used));
      add("used_memory_peak", used);
      add("total_system_memory", c.ks.capacityBytes());
      add("maxmemory", maxMemoryOf(h));
      add("maxmemory_human", human(maxMemoryOf(h)));
      add("maxmemory_policy", h.config.get("maxmemory-policy") ?? "noeviction");
      add("mem_allocator", "tardigrade-heap");
      break;
    }
    case "persistence": {
      const p = h.persistence();
      add("loading", 0);
      add("async_loading", 0);
      add("rdb_changes_since_last_save", 0);
      add("rdb_bgsave_in_progress", 0);
      add("rdb_last_save_time", Math.floor((p.lastCommitUnixMs || h.startedAt) / 1000));
      add("rdb_last_bgsave_status", "ok");
      add("aof_enabled", 0);
      add("aof_rewrite_in_progress", 0);
      add("aof_last_write_status", "ok");
      add("checkpoint_period_ms", p.checkpointPeriodMs);
      add("checkpoints_committed", p.checkpointsCommitted);
      add("checkpoint_last_commit_unix_ms", p.lastCommitUnixMs);
      add("checkpoint_last_pause_us", p.lastPauseUs);
      break;
    }
    case "stats":
      add("total_connections_received", h.sessions().length);
      add("total_commands_processed", h.commandsProcessed);
      add("expired_keys", 0);
      add("evicted_keys", 0);
      break;
    case "replication":
      add("role", "master");
      add("connected_slaves", 0);
      break;
    case "keyspace":
      for (let db = 0; db < DATABASES; db++) {
        const n = c.ks.size(db);
        if (n > 0) add(`db${db}`, `keys=${n},expires=${c.ks.expiringSize(db)},avg_ttl=0`);
      }
      break;
    default:
      return undefined;
  }
  return `# ${name[0].toUpperCase()}${name.slice(1)}\r\n${lines.map((l) => l + "\r\n").join("")}`;
}

const INFO_SECTIONS = [
  "server",
  "clients",
  "memory",
  "persistence",
  "stats",
  "replication",
  "keyspace",
];

function human(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(2)}K`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)}M`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)}G`;
}

function info(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let names: string[] = [];
  if (argv.length === 1) names = INFO_SECTIONS;
  for (let i = 1; i < argv.length; i++) {
    const s = lowerName(argv[i]);
    if (s === "all" || s === "everything" || s === "default") names = INFO_SECTIONS;
    else if (!names.includes(s)) names.push(s);
  }
  const parts: string[] = [];
  for (const n of INFO_SECTIONS) {
    if (!names.includes(n)) continue;
    const s = infoSection(c, n);
    if (s !== undefined) parts.push(s);
  }
  out.bulkString(parts.join("\r\n"));
}

// ── COMMAND ──

function specInfo(s: CommandSpec, out: OutputWriter): void {
  out.arrayHeader(10);
  out.bulkString(s.name);
  out.integer(s.arity);
  out.arrayHeader(s.flags.length);
  for (const f of s.flags) out.simple(f);
  out.integer(s.firstKey);
  out.integer(s.lastKey);
  out.integer(s.keyStep);
  out.arrayHeader(s.acl.length);
  for (const a of s.acl) out.simple(a);
  out.arrayHeader(0); // tips
  out.arrayHeader(0); // key specifications
  const subs = s.subcommands === undefined ? [] : [...s.subcommands.values()];
  out.arrayHeader(subs.length);
  for (const sub of subs) specInfo(sub, out);
}

function command(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.arrayHeader(c.table.size);
  for (const s of c.table.values()) specInfo(s, out);
}

function commandCount(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.integer(c.table.size);
}

function commandList(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  out.arrayHeader(c.table.size);
  for (const name of c.table.keys()) out.bulkString(name);
}

function commandInfo(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length === 2) return command(c, argv, out);
  out.arrayHeader(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const s = c.table.get(lowerName(argv[i]));
    if (s === undefined) out.nullBulk(); // Redis 7.0: $-1 for an unknown name
    else specInfo(s, out);
  }
}

function groupOf(s: CommandSpec): string {
  for (const g of ["string", "list", "hash", "set", "sortedset", "keyspace", "connection"]) {
    if (s.acl.includes("@" + g)) {
      return g === "sortedset" ? "sorted-set" : g === "keyspace" ? "generic" : g;
    }
  }
  return "server";
}

function commandDocs(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const specs = argv.length === 2
    ? [...c.table.values()]
    : argv.slice(2).map((a) => c.table.get(lowerName(a))).filter((s) => s !== undefined);
  out.arrayHeader(specs.length * 2);
  for (const s of specs) {
    out.bulkString(s.name);
    out.arrayHeader(4);
    out.bulkString("group");
    out.bulkString(groupOf(s));
    out.bulkString("arguments");
    out.arrayHeader(0);
  }
}

/** The server commands' table entries (CONFIG, CLIENT and COMMAND with their subcommands). */
export const SERVER_COMMANDS: CommandSpec[] = [
  spec("ping", -1, "fast", 0, 0, 0, "@fast @connection", ping),
  spec("echo", 2, "loading stale fast", 0, 0, 0, "@fast @connection", echo),
  spec(
    "quit",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    0,
    0,
    0,
    "@fast @connection",
    quit,
  ),
  spec(
    "hello",
    -1,
    "noscript loading stale fast no_auth allow_busy",
    0,
    0,
    0,
    "@fast @connection",
    hello,
  ),
  spec("info", -1, "loading stale", 0, 0, 0, "@slow @dangerous", info),
  spec("config", -2, "", 0, 0, 0, "@slow", undefined, [
    spec(
      "config|get",
      -3,
      "admin noscript loading stale",
      0,
      0,
      0,
      "@admin @slow @dangerous",
      configGet,
    ),
    spec(
      "config|set",
      -4,
      "admin noscript loading stale",
      0,
      0,
      0,
      "@admin @slow @dangerous",
      configSet,
    ),
    spec(
      "config|resetstat",
      2,
      "admin noscript loading stale",
      0,
      0,
      0,
      "@admin @slow @dangerous",
      okCommand,
    ),
    spec(
      "config|rewrite",
      2,
      "admin noscript loading stale",
      0,
      0,
      0,
      "@admin @slow @dangerous",
      okCommand,
    ),
  ]),
  spec("command", -1, "loading stale", 0, 0, 0, "@slow @connection", command, [
    spec("command|count", 2, "loading stale", 0, 0, 0, "@slow @connection", commandCount),
    spec("command|info", -2, "loading stale", 0, 0, 0, "@slow @connection", commandInfo),
    spec("command|docs", -2, "loading stale", 0, 0, 0, "@slow @connection", commandDocs),
    spec("command|list", -2, "loading stale", 0, 0, 0, "@slow @connection", commandList),
  ]),
  spec("client", -2, "", 0, 0, 0, "@slow", undefined, [
    spec(
      "client|setname",
      3,
      "noscript loading stale",
      0,
      0,
      0,
      "@slow @connection",
      clientSetName,
    ),
    spec(
      "client|getname",
      2,
      "noscript loading stale",
      0,
      0,
      0,
      "@slow @connection",
      clientGetName,
    ),
    spec("client|id", 2, "noscript loading stale", 0, 0, 0, "@slow @connection", clientId),
    spec(
      "client|setinfo",
      4,
      "noscript loading stale",
      0,
      0,
      0,
      "@slow @connection",
      clientSetInfo,
    ),
    spec(
      "client|list",
      -2,
      "admin noscript loading stale",
      0,
      0,
      0,
      "@admin @slow @dangerous @connection",
      clientList,
    ),
    spec("client|info", 2, "noscript loading stale", 0, 0, 0, "@slow @connection", clientInfo),
  ]),
  spec("dbsize", 1, "readonly fast", 0, 0, 0, "@keyspace @read @fast", dbsize),
  spec("select", 2, "loading stale fast", 0, 0, 0, "@fast @connection", select),
  spec("swapdb", 3, "write fast", 0, 0, 0, "@keyspace @write @fast @dangerous", swapdb),
  spec("flushdb", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", flushdb),
  spec("flushall", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", flushall),
  spec("time", 1, "loading stale fast", 0, 0, 0, "@fast", time),
  spec("lastsave", 1, "loading stale fast", 0, 0, 0, "@admin @fast @dangerous", lastsave),
  spec(
    "save",
    1,
    "admin noscript no_async_loading no_multi",
    0,
    0,
    0,
    "@admin @slow @dangerous",
    okCommand,
  ),
  spec("bgsave", -1, "admin noscript no_async_loading", 0, 0, 0, "@admin @slow @dangerous", bgsave),
  spec("wait", 3, "noscript", 0, 0, 0, "@slow @connection", wait),
];
