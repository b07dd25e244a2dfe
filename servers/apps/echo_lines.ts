/**
 * The echo app's line numbering, as a pure function: received bytes in,
 * replies out. Each line (its newline not included) becomes `<n> <line>\n`,
 * n counting 1, 2, 3… per connection; a line longer than
 * {@link ECHO_LINE_BYTES_MAX} is cut into pieces of that size, each a reply
 * of its own; a partial line is kept until its newline, or replied at the
 * client's EOF.
 *
 * @module
 */

/** Longest piece of a line one reply carries. */
export const ECHO_LINE_BYTES_MAX = 1024;

/** A connection's line state between two receives. */
export interface LineState {
  /** Bytes of the current line not yet replied to (at most {@link ECHO_LINE_BYTES_MAX}). */
  partial: Uint8Array;
  /** The number of the next reply. */
  next: number;
}

/** What one batch of received bytes gives. */
export interface LineResult extends LineState {
  /** The replies, in order, joined. */
  replies: Uint8Array;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/**
 * Numbers the lines of `state.partial` + `bytes`; with `eof`, the partial
 * line that is left is replied too. Returns the replies and the new state.
 */
export function numberLines(state: LineState, bytes: Uint8Array, eof: boolean): LineResult {
  const input = new Uint8Array(state.partial.length + bytes.length);
  input.set(state.partial);
  input.set(bytes, state.partial.length);
  const out: Uint8Array[] = [];
  let next = state.next;
  const reply = (line: Uint8Array) => {
    out.push(encoder.encode(`${next++} `), line, Uint8Array.of(NEWLINE));
  };
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === NEWLINE) {
      reply(input.subarray(start, i));
      start = i + 1;
    } else if (i - start === ECHO_LINE_BYTES_MAX) {
      // A full piece, and the line goes on: the piece is a reply (a line of exactly the
      // maximum, then its newline, stays one reply).
      reply(input.subarray(start, i));
      start = i;
    }
  }
  let partial = input.slice(start);
  if (eof && partial.length > 0) {
    reply(partial);
    partial = new Uint8Array(0);
  }
  const replies = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of out) {
    replies.set(b, at);
    at += b.length;
  }
  return { partial, next, replies };
}
