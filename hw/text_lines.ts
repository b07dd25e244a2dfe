/**
 * Text lines from a byte stream (stdin, a child's stdout): the one place
 * that splits a stream on "\n", for the machine's command port and the
 * tools that drive or watch a machine.
 *
 * @module
 */

/** Yields each line of `stream` (UTF-8), without its "\n"; a last line without one is dropped. */
export async function* textLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}
