/**
 * The seeded command generator of the differential run (tools/kv_diff.ts):
 * random steps over a small key set ({@link KEYS} keys, {@link FIELDS}
 * fields and members) that mix all five types, every command of issue 13's
 * list with its options, wrong types (any key may hold any type), wrong
 * arity, bad integers and floats, expiry (long deadlines, short PX ones,
 * deadlines in the past, PERSIST), SELECT/MOVE/SWAPDB, inline commands
 * and pipelined batches of 1…20 commands, some split at random byte
 * offsets across writes.
 *
 * Each command carries how its replies are compared ({@link Mode}). A
 * command that sets a short deadline ends its batch, and the run waits
 * the deadline out and touches the key on both servers before going on,
 * so no reply depends on which side was a millisecond faster. SPOP, SCAN,
 * QUIT are steps of their own (their checks need more than one reply).
 *
 * Left out: CLIENT SETINFO (Redis 7.0 has none: it came with 7.2) and
 * BGSAVE (Redis starts a save; the store answers +OK, every write being
 * durable already); tests/servers/apps/kv/commands_test.ts and
 * server_test.ts check those.
 *
 * @module
 */

import { Prng } from "../kernel/abi/prng.ts";
import { type Arg, encodeCommand } from "./resp_client.ts";

/** Keys the run uses (k0…k11): few, so commands meet each other's values and types. */
export const KEYS = 12;
/** Fields of hashes and members of sets and sorted sets (f0…f5, m0…m5). */
export const FIELDS = 6;
/** Databases the run SELECTs, MOVEs and SWAPDBs among (of Redis's 16). */
export const DBS_USED = 4;
/** Longest batch of pipelined commands. */
export const BATCH_MAX = 20;
/** Longest short deadline (PX), in ms: the run waits it out. */
export const SHORT_DEADLINE_MS_MAX = 30;

/**
 * How two replies to a command are compared: `exact` byte for byte;
 * `unordered` as sorted multisets of elements (SMEMBERS, KEYS); `pairs`
 * as sorted multisets of field/value pairs (HGETALL); `ttl-s`/`ttl-ms`
 * integers within a tolerance (negative ones exactly); `shape` only the
 * reply's type (INFO, CLIENT LIST, TIME…); `randomkey` both null or both a
 * key; `hello` exactly except the connection id.
 */
export type Mode =
  | "exact"
  | "unordered"
  | "pairs"
  | "ttl-s"
  | "ttl-ms"
  | "shape"
  | "randomkey"
  | "hello";

/** One generated command. */
export interface Cmd {
  argv: Arg[];
  mode: Mode;
  /** Sent as an inline command line instead of a multibulk. */
  inline?: boolean;
  /** Sets a short deadline on argv[1] in database `db`: the batch ends here and the run waits. */
  short?: { db: number; key: Arg; ms: number };
}

/** One step of the run. */
export type Step =
  | { kind: "batch"; cmds: Cmd[]; cuts: number[]; yieldBetween: boolean }
  | { kind: "spop"; argv: Arg[] }
  | { kind: "scan"; options: Arg[] }
  | { kind: "quit" };

const VALUES: Arg[] = [
  "v",
  "hello",
  "",
  "0",
  "1",
  "-1",
  "42",
  "10.5",
  "-3.25",
  "1e3",
  "9223372036854775807",
  "-9223372036854775808",
  "abc",
  "a b",
  new Uint8Array([0, 0xff, 0x0d, 0x0a, 0x24]),
  "12345678901234567890",
];
const INTS = ["0", "1", "-1", "2", "5", "100", "-100", "3", "9223372036854775807"];
const BAD_INTS = ["x", "1.5", "", " 1", "99999999999999999999", "-9223372036854775809", "0x10"];
const FLOATS = ["0", "1.5", "-2.25", "1e2", "3", "0.1", "-0.5", "5.0e3"];
const BAD_FLOATS = ["abc", "", "1.2.3", "nan", "inf", "-inf"];
const SCORES = ["1", "2", "2.5", "-1", "0", "3", "10", "-inf", "+inf", "1e-3", "100"];
const BAD_SCORES = ["abc", "nan", "", "1x"];
const PATTERNS = ["*", "k1*", "k?", "k[0-5]", "k[^1]*", "*1", "x*", "k\\1", "k[1-3", "?1*"];
const TYPES = ["string", "list", "hash", "set", "zset", "nosuchtype"];
const CONFIG_PARAMS = [
  "save",
  "appendonly",
  "databases",
  "maxmemory-policy",
  "no-such-parameter",
  "timeout",
];

/** CONFIG SET arguments: values both servers take without changing what the run sees, bad values, unknown and immutable parameters. */
const CONFIG_SETS: Arg[][] = [
  ["timeout", "0"],
  ["timeout", "x"],
  ["save", ""],
  ["appendonly", "no"],
  ["appendonly", "maybe"],
  ["maxmemory-policy", "noeviction"],
  ["maxmemory-policy", "bogus"],
  ["no-such-parameter", "1"],
  ["databases", "4"],
  ["timeout", "0", "save", ""],
];

/** Random commands from one seed; `nowMs` anchors absolute deadlines (EXPIREAT, EXAT). */
export class KvGenerator {
  readonly prng: Prng;
  /** The database the connection has SELECTed, as the generator models it. */
  db = 0;

  constructor(readonly seed: number, private readonly nowMs: number) {
    this.prng = new Prng(seed);
  }

  /** The next step: mostly pipelined batches, now and then SPOP, SCAN or QUIT. */
  next(): Step {
    const p = this.prng;
    const roll = p.int(0, 99);
    if (roll < 3) return { kind: "spop", argv: this.spop() };
    if (roll < 5) return { kind: "scan", options: this.scanOptions() };
    if (roll === 5 && p.int(0, 4) === 0) {
      this.db = 0;
      return { kind: "quit" };
    }
    const n = p.int(0, 2) === 0 ? 1 : p.int(1, BATCH_MAX);
    const cmds: Cmd[] = [];
    for (let i = 0; i < n; i++) {
      const c = this.command();
      cmds.push(c);
      if (c.short) break;
    }
    const bytes = cmds.reduce((s, c) => s + encodeCmd(c).length, 0);
    const cuts: number[] = [];
    if (p.int(0, 3) === 0) {
      for (let i = p.int(1, 3); i > 0; i--) cuts.push(p.int(1, bytes - 1));
      cuts.sort((a, b) => a - b);
    }
    return { kind: "batch", cmds, cuts, yieldBetween: p.int(0, 1) === 0 };
  }

  /** One command: a random one of the list, now and then with its arity broken. */
  command(): Cmd {
    const p = this.prng;
    const c = this.pickCommand();
    const name = String(c.argv[0]);
    // Arity broken: an argument dropped or one too many (only where every reply is exact; not
    // COMMAND, whose bare forms list every command: Redis has more).
    if (p.int(0, 29) === 0 && c.mode === "exact" && name !== "SCAN" && name !== "COMMAND") {
      c.argv = p.int(0, 1) === 0 && c.argv.length > 1
        ? c.argv.slice(0, p.int(1, c.argv.length - 1))
        : [...c.argv, this.value()];
      c.short = undefined;
    }
    c.argv[0] = this.randomCase(name);
    if (
      name.toUpperCase() === "SELECT" && c.argv.length === 2 &&
      /^[0-9]+$/.test(String(c.argv[1])) &&
      Number(c.argv[1]) < 16
    ) {
      this.db = Number(c.argv[1]);
    }
    if (
      p.int(0, 19) === 0 && c.argv.every((a) => typeof a === "string" && /^[\w.:*?-]+$/.test(a))
    ) {
      c.inline = true;
    }
    return c;
  }

  private pickCommand(): Cmd {
    const p = this.prng;
    const group = p.int(0, 99);
    if (group < 28) return this.stringCommand();
    if (group < 44) return this.keyCommand();
    if (group < 56) return this.expiryCommand();
    if (group < 66) return this.hashCommand();
    if (group < 76) return this.listCommand();
    if (group < 84) return this.setCommand();
    if (group < 93) return this.zsetCommand();
    return this.serverCommand();
  }

  private stringCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    switch (p.int(0, 24)) {
      case 0:
      case 1:
        return x("GET", k);
      case 2:
      case 3:
        return this.set(k);
      case 4:
        return x("SETNX", k, this.value());
      case 5:
        return x("SETEX", k, this.seconds(), this.value());
      case 6: {
        const ms = this.shortMs();
        return p.int(0, 1) === 0
          ? x("PSETEX", k, this.millis(), this.value())
          : { ...x("PSETEX", k, String(ms), this.value()), short: this.short(k, ms) };
      }
      case 7:
        return x("GETSET", k, this.value());
      case 8:
        return x("GETDEL", k);
      case 9:
        return this.getex(k);
      case 10:
        return x("MGET", ...this.keys(1, 4));
      case 11:
        return x("MSET", ...this.keys(1, 3).flatMap((key) => [key, this.value()]));
      case 12:
        return x("MSETNX", ...this.keys(1, 3).flatMap((key) => [key, this.value()]));
      case 13:
        return x("APPEND", k, this.value());
      case 14:
        return x("STRLEN", k);
      case 15:
        return x("GETRANGE", k, this.index(), this.index());
      case 16:
        return x(
          "SETRANGE",
          k,
          p.pick(["0", "1", "3", "10", "-1", "536870912", "x"]),
          this.value(),
        );
      case 17:
      case 18:
        return x("INCR", k);
      case 19:
        return x("INCRBY", k, this.int());
      case 20:
        return x("INCRBYFLOAT", k, this.float());
      case 21:
        return x("DECR", k);
      case 22:
        return x("DECRBY", k, this.int());
      default:
        return x("SET", k, p.pick(["0", "1", "10", "-5", "9223372036854775806"]));
    }
  }

  private set(k: Arg): Cmd {
    const p = this.prng;
    const argv: Arg[] = ["SET", k, this.value()];
    let short: Cmd["short"];
    const n = p.int(0, 3);
    for (let i = 0; i < n; i++) {
      switch (p.int(0, 9)) {
        case 0:
          argv.push("EX", this.seconds());
          break;
        case 1: {
          if (p.int(0, 1) === 0) {
            const ms = this.shortMs();
            argv.push("PX", String(ms));
            short = this.short(k, ms);
          } else argv.push("PX", this.millis());
          break;
        }
        case 2:
        case 3: {
          // Redis keeps a key SET with a past EXAT/PXAT until it is touched
          // (DBSIZE counts it): the run treats it as a short deadline.
          const at = argv.push(
            ...(p.int(0, 1) ? ["EXAT", this.atSeconds()] : ["PXAT", this.atMillis()]),
          );
          if (Number(argv[at - 1]) < this.nowMs / (argv[at - 2] === "EXAT" ? 1000 : 1)) {
            short = this.short(k, 0);
          }
          break;
        }
        case 4:
          argv.push("KEEPTTL");
          break;
        case 5:
          argv.push("NX");
          break;
        case 6:
          argv.push("XX");
          break;
        case 7:
          argv.push("GET");
          break;
        case 8:
          argv.push(p.pick(["EX", "PX"]), p.pick(["0", "-1", "x", "9223372036854775807"]));
          break;
        default:
          argv.push(p.pick(["ex", "Px", "nx", "FOO"]));
      }
    }
    return { argv, mode: "exact", short };
  }

  private getex(k: Arg): Cmd {
    const p = this.prng;
    switch (p.int(0, 6)) {
      case 0:
        return { argv: ["GETEX", k], mode: "exact" };
      case 1:
        return { argv: ["GETEX", k, "EX", this.seconds()], mode: "exact" };
      case 2: {
        const ms = this.shortMs();
        return { argv: ["GETEX", k, "PX", String(ms)], mode: "exact", short: this.short(k, ms) };
      }
      case 3:
        return { argv: ["GETEX", k, "EXAT", this.atSeconds()], mode: "exact" };
      case 4:
        return { argv: ["GETEX", k, "PXAT", this.atMillis()], mode: "exact" };
      case 5:
        return { argv: ["GETEX", k, "PERSIST"], mode: "exact" };
      default:
        return { argv: ["GETEX", k, p.pick(["EX", "PERSIST", "FOO"]), "x"], mode: "exact" };
    }
  }

  private keyCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    switch (p.int(0, 19)) {
      case 0:
      case 1:
        return x("DEL", ...this.keys(1, 3));
      case 2:
        return x("UNLINK", ...this.keys(1, 3));
      case 3:
      case 4:
        return x("EXISTS", ...this.keys(1, 4));
      case 5:
      case 6:
        return x("TYPE", k);
      case 7:
        return { argv: ["KEYS", p.pick(PATTERNS)], mode: "unordered" };
      case 8:
        return { argv: ["RANDOMKEY"], mode: "randomkey" };
      case 9:
        return x("RENAME", k, p.int(0, 5) === 0 ? k : this.key());
      case 10:
        return x("RENAMENX", k, p.int(0, 5) === 0 ? k : this.key());
      case 11: {
        const argv: Arg[] = ["COPY", k, p.int(0, 5) === 0 ? k : this.key()];
        if (p.int(0, 1) === 0) argv.push("DB", this.dbArg());
        if (p.int(0, 1) === 0) argv.push("REPLACE");
        return x(...argv);
      }
      case 12:
      case 13:
        return x("DBSIZE");
      case 14:
        return p.int(0, 4) === 0
          ? x("FLUSHDB", ...(p.int(0, 1) ? [p.pick(["ASYNC", "SYNC"])] : []))
          : x("DBSIZE");
      case 15:
        return p.int(0, 9) === 0
          ? x("FLUSHALL", ...(p.int(0, 1) ? [p.pick(["ASYNC", "SYNC"])] : []))
          : x("EXISTS", k);
      case 16:
        return x("SELECT", this.dbArg());
      case 17:
        return x("SWAPDB", this.dbArg(), this.dbArg());
      case 18:
        return x("MOVE", k, this.dbArg());
      default:
        return p.int(0, 1)
          ? x("SCAN", p.pick(["abc", "1x", "1.5"]))
          : x("SCAN", "0", "COUNT", p.pick(["0", "x", "-5"]));
    }
  }

  private expiryCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const flag = (): Arg[] => p.int(0, 2) === 0 ? [] : [p.pick(["NX", "XX", "GT", "LT", "FOO"])];
    switch (p.int(0, 13)) {
      case 0:
        return { argv: ["EXPIRE", k, this.seconds(), ...flag()], mode: "exact" };
      case 1: {
        if (p.int(0, 1) === 0) {
          return { argv: ["PEXPIRE", k, this.millis(), ...flag()], mode: "exact" };
        }
        const ms = this.shortMs();
        return { argv: ["PEXPIRE", k, String(ms)], mode: "exact", short: this.short(k, ms) };
      }
      case 2:
        return { argv: ["EXPIREAT", k, this.atSeconds(), ...flag()], mode: "exact" };
      case 3:
        return { argv: ["PEXPIREAT", k, this.atMillis(), ...flag()], mode: "exact" };
      case 4:
      case 5:
        return { argv: ["TTL", k], mode: "ttl-s" };
      case 6:
      case 7:
        return { argv: ["PTTL", k], mode: "ttl-ms" };
      case 8:
        return { argv: ["EXPIRETIME", k], mode: "ttl-s" };
      case 9:
        return { argv: ["PEXPIRETIME", k], mode: "ttl-ms" };
      case 10:
      case 11:
        return { argv: ["PERSIST", k], mode: "exact" };
      case 12:
        return {
          argv: ["EXPIRE", k, p.pick(["-5", "0", "x", "9223372036854775807"])],
          mode: "exact",
        };
      default:
        return { argv: ["EXPIRE", k, this.seconds(), "NX", "XX"], mode: "exact" };
    }
  }

  private hashCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    switch (p.int(0, 9)) {
      case 0:
      case 1:
        return x("HSET", k, ...this.fields(1, 3).flatMap((f) => [f, this.value()]));
      case 2:
        return x("HGET", k, this.field());
      case 3:
        return x("HMGET", k, ...this.fields(1, 4));
      case 4:
        return x("HDEL", k, ...this.fields(1, 3));
      case 5:
        return { argv: ["HGETALL", k], mode: "pairs" };
      case 6:
        return x("HLEN", k);
      case 7:
      case 8:
        return x("HINCRBY", k, this.field(), this.int());
      default:
        return x("HSET", k, this.field());
    }
  }

  private listCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    const count = (): Arg[] => p.int(0, 2) === 0 ? [p.pick([...INTS.slice(0, 6), "x", "0"])] : [];
    switch (p.int(0, 9)) {
      case 0:
      case 1:
        return x("LPUSH", k, ...this.members(1, 3));
      case 2:
      case 3:
        return x("RPUSH", k, ...this.members(1, 3));
      case 4:
        return x("LPOP", k, ...count());
      case 5:
        return x("RPOP", k, ...count());
      case 6:
      case 7:
        return x("LRANGE", k, this.index(), this.index());
      case 8:
        return x("LLEN", k);
      default:
        return x("LINDEX", k, this.index());
    }
  }

  private setCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    switch (p.int(0, 6)) {
      case 0:
      case 1:
        return x("SADD", k, ...this.members(1, 4));
      case 2:
        return x("SREM", k, ...this.members(1, 3));
      case 3:
        return { argv: ["SMEMBERS", k], mode: "unordered" };
      case 4:
        return x("SISMEMBER", k, this.member());
      default:
        return x("SCARD", k);
    }
  }

  private zsetCommand(): Cmd {
    const p = this.prng;
    const k = this.key();
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    switch (p.int(0, 9)) {
      case 0:
      case 1:
      case 2: {
        const argv: Arg[] = ["ZADD", k];
        if (p.int(0, 3) === 0) argv.push(p.pick(["NX", "XX", "GT", "LT", "CH", "INCR"]));
        const n = argv.includes("INCR") ? 1 : p.int(1, 3);
        for (let i = 0; i < n; i++) argv.push(this.score(), this.member());
        return x(...argv);
      }
      case 3:
        return x("ZSCORE", k, this.member());
      case 4:
      case 5:
        return x("ZRANGE", k, this.index(), this.index(), ...(p.int(0, 1) ? ["WITHSCORES"] : []));
      case 6:
        return x("ZCARD", k);
      case 7:
        return x("ZREM", k, ...this.members(1, 3));
      default:
        return x("ZPOPMIN", k, ...(p.int(0, 1) ? [p.pick(["1", "2", "5", "0", "-1", "x"])] : []));
    }
  }

  private serverCommand(): Cmd {
    const p = this.prng;
    const x = (...argv: Arg[]): Cmd => ({ argv, mode: "exact" });
    const shape = (...argv: Arg[]): Cmd => ({ argv, mode: "shape" });
    switch (p.int(0, 22)) {
      case 0:
        return x("PING", ...(p.int(0, 1) ? [this.value()] : []));
      case 1:
        return x("ECHO", this.value());
      case 2:
        return p.int(0, 1)
          ? { argv: ["HELLO", "2"], mode: "hello" }
          : { argv: ["HELLO", p.pick(["4", "x"])], mode: "hello" }; // no arity break: a bare HELLO shows the id
      case 3:
        return shape("INFO", ...(p.int(0, 1) ? [p.pick(["server", "keyspace", "memory"])] : []));
      case 4:
      case 5:
        return x("CONFIG", "GET", p.pick(CONFIG_PARAMS));
      case 6:
        return shape("COMMAND", "COUNT");
      case 7:
        return x("CLIENT", "SETNAME", p.pick(["app1", "x-y", "bad name", ""]));
      case 8:
        return x("CLIENT", "GETNAME");
      case 9:
        return shape("CLIENT", "ID");
      case 10:
        return shape("CLIENT", "LIST");
      case 11:
        return shape("TIME");
      case 12:
        return shape("LASTSAVE");
      case 13:
        return x("SAVE");
      case 14:
        return x("WAIT", "0", "0");
      case 15:
        return x(p.pick(["FOO", "GETT", "blah"]), ...this.keys(0, 3));
      case 16:
        return x("DBSIZE");
      case 17:
        return x("SELECT", this.dbArg());
      case 18:
        return x("SWAPDB", this.dbArg(), this.dbArg());
      case 19:
        return x("CONFIG", "SET", ...p.pick(CONFIG_SETS));
      case 20: {
        // A known command's entry or docs: the shape only (Redis's tables are larger); an unknown one exactly.
        const sub = p.pick(["INFO", "DOCS"]);
        return p.int(0, 2) === 0
          ? x("COMMAND", sub, "nosuchcommand")
          : shape("COMMAND", sub, p.pick(["get", "set", "incr"]));
      }
      case 21:
        return x("CONFIG", p.pick(["GET", "SET", "RESETSTAT", "FOO"]));
      default:
        return x("MOVE", this.key(), this.dbArg());
    }
  }

  private spop(): Arg[] {
    const p = this.prng;
    const k = this.key();
    return p.int(0, 1) ? ["SPOP", k] : ["SPOP", k, p.pick(["1", "2", "3", "10", "0", "-1", "x"])];
  }

  private scanOptions(): Arg[] {
    const p = this.prng;
    const o: Arg[] = [];
    if (p.int(0, 1)) o.push("MATCH", p.pick(PATTERNS));
    if (p.int(0, 1)) o.push("COUNT", p.pick(["1", "2", "5", "10", "100"]));
    if (p.int(0, 2) === 0) o.push("TYPE", p.pick(TYPES));
    return o;
  }

  // ── arguments ──

  private key(): string {
    return `k${this.prng.int(0, KEYS - 1)}`;
  }

  private keys(min: number, max: number): string[] {
    return Array.from({ length: this.prng.int(min, max) }, () => this.key());
  }

  private field(): string {
    return `f${this.prng.int(0, FIELDS - 1)}`;
  }

  private fields(min: number, max: number): string[] {
    return Array.from({ length: this.prng.int(min, max) }, () => this.field());
  }

  private member(): Arg {
    return this.prng.int(0, 9) === 0 ? this.value() : `m${this.prng.int(0, FIELDS - 1)}`;
  }

  private members(min: number, max: number): Arg[] {
    return Array.from({ length: this.prng.int(min, max) }, () => this.member());
  }

  private value(): Arg {
    return this.prng.pick(VALUES);
  }

  private int(): string {
    return this.prng.int(0, 7) === 0 ? this.prng.pick(BAD_INTS) : this.prng.pick(INTS);
  }

  private float(): string {
    return this.prng.int(0, 7) === 0 ? this.prng.pick(BAD_FLOATS) : this.prng.pick(FLOATS);
  }

  private score(): string {
    return this.prng.int(0, 9) === 0 ? this.prng.pick(BAD_SCORES) : this.prng.pick(SCORES);
  }

  private index(): string {
    return this.prng.int(0, 9) === 0
      ? this.prng.pick(["x", "100", "-100", "9223372036854775807"])
      : String(this.prng.int(-4, 4));
  }

  private dbArg(): string {
    return this.prng.int(0, 9) === 0
      ? this.prng.pick(["16", "-1", "x", "15"])
      : String(this.prng.int(0, DBS_USED - 1));
  }

  /** A long relative deadline in seconds (never reached during a run), now and then a bad one. */
  private seconds(): string {
    return this.prng.int(0, 11) === 0
      ? this.prng.pick(["0", "-1", "x", ""])
      : String(this.prng.int(100, 100_000));
  }

  private millis(): string {
    return String(this.prng.int(100_000, 100_000_000));
  }

  private shortMs(): number {
    return this.prng.int(1, SHORT_DEADLINE_MS_MAX);
  }

  private short(key: Arg, ms: number): Cmd["short"] {
    return { db: this.db, key, ms };
  }

  /** An absolute deadline in seconds: in the past (the key goes at once) or far ahead. */
  private atSeconds(): string {
    const now = Math.floor(this.nowMs / 1000);
    return String(
      this.prng.int(0, 2) === 0 ? now - this.prng.int(1, 1000) : now + this.prng.int(1000, 1e6),
    );
  }

  private atMillis(): string {
    return String(
      this.prng.int(0, 2) === 0
        ? this.nowMs - this.prng.int(1, 1e6)
        : this.nowMs + this.prng.int(1e6, 1e9),
    );
  }

  private randomCase(name: string): string {
    const p = this.prng.int(0, 3);
    if (p === 0) return name.toLowerCase();
    if (p === 1) {
      return [...name].map((ch) => this.prng.int(0, 1) ? ch.toLowerCase() : ch).join("");
    }
    return name;
  }
}

/** The bytes that send `c`: a multibulk request, or an inline line. */
export function encodeCmd(c: Cmd): Uint8Array {
  return c.inline ? new TextEncoder().encode(c.argv.join(" ") + "\r\n") : encodeCommand(c.argv);
}
