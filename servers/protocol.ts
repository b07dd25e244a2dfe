/**
 * Message labels of the servers' protocols. Every server answers STATUS and
 * ECHO; the memory server's object calls follow (servers/memory/main.ts).
 *
 * @module
 */

/** Labels common to every server. */
export enum Label {
  /** Reply: JSON {@link ServerStatus}. */
  STATUS = 1,
  /** Reply: the request payload, unchanged. */
  ECHO = 2,
}

/** What STATUS returns. */
export interface ServerStatus {
  name: string;
  requests: number;
  resumed: boolean;
  badge: number;
}
