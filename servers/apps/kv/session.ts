/**
 * The contract between the store's commands (servers/apps/kv/commands/)
 * and the app that runs them (servers/apps/kv/main.ts): a connection's
 * session, and what commands ask of the server around them.
 *
 * @module
 */

import type { Keyspace } from "./keyspace.ts";

/** One connection's state that commands read and change; the app keeps it with the connection. */
export interface Session {
  /** CLIENT ID: unique for the store's lifetime, kept across resumes. */
  readonly id: number;
  /** SELECTed database. */
  db: number;
  /** CLIENT SETNAME ("" for none). */
  name: string;
  /** CLIENT SETINFO LIB-NAME and LIB-VER. */
  libName: string;
  libVersion: string;
  /** Unix ms the connection was accepted. */
  readonly createdAt: number;
  /** Set by QUIT: the app closes the connection once this reply is out. */
  closing: boolean;
  /** The peer as CLIENT LIST shows it ("127.0.0.1:port" when known). */
  readonly addr: string;
  /** Name of the last command run (CLIENT LIST cmd=). */
  lastCommand: string;
}

/** A session as a new connection starts it: database 0, no names; `addr` as CLIENT LIST shows it. */
export function newSession(id: number, addr: string): Session {
  return {
    id,
    db: 0,
    name: "",
    libName: "",
    libVersion: "",
    createdAt: Date.now(),
    closing: false,
    addr,
    lastCommand: "",
  };
}

/** Checkpoint figures INFO persistence reports (from the kernel's statistics). */
export interface PersistenceFigures {
  checkpointPeriodMs: number;
  checkpointsCommitted: number;
  lastCommitUnixMs: number;
  lastPauseUs: number;
}

/** What commands need from the app around them. */
export interface Host {
  readonly keyspace: Keyspace;
  /** CONFIG parameters by lower-case name, as strings; the app keeps them across resumes. */
  readonly config: Map<string, string>;
  /** Called after CONFIG SET changed `config`, so the app persists it. */
  configChanged(): void;
  /** Every open connection's session (CLIENT LIST, INFO clients). */
  sessions(): Session[];
  /** Unix ms the store first started (INFO server uptime counts from it, across resumes). */
  readonly startedAt: number;
  /** TCP port the store listens on (INFO server). */
  readonly port: number;
  /** Checkpoint figures for INFO persistence. */
  persistence(): PersistenceFigures;
  /** Commands run since the store first started (INFO stats). */
  commandsProcessed: number;
}
