/**
 * Hands a call's texts to the addon. V8 strings can only be read on the JS thread, so copying
 * 200,000 pairs at once would hold the event loop for about a second; here they are checked and
 * copied a chunk at a time, with a turn of the event loop between chunks. Nothing is scored until
 * every text has been checked and copied: an invalid item anywhere rejects the call before any
 * work starts.
 */
import { abortError } from './errors';
import { native, type NativeTextBuffer } from './native';

/** A chunk ends after this many items or this many UTF-16 units, whichever comes first. */
const CHUNK_ITEMS = 4096;
const CHUNK_CHARS = 1 << 20;

/** Reads item i as [text, pair | null], throwing a TceError that names it when it is malformed. */
export type TextReader = (i: number) => readonly [string, string | null];

export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A TextBuffer holding items 0..count-1. Calls with one chunk are copied at once; larger ones
 * yield between chunks and stop with an AbortError if `signal` aborts meanwhile.
 */
export async function transferTexts(count: number, read: TextReader, signal?: AbortSignal): Promise<NativeTextBuffer> {
  const buffer = new (native().TextBuffer)();
  for (let start = 0; start < count;) {
    if (start > 0) {
      await yieldToEventLoop();
      if (signal?.aborted) throw abortError(signal);
    }
    const a: string[] = [];
    let b: Array<string | null> | null = null;
    let chars = 0;
    let i = start;
    for (; i < count && i - start < CHUNK_ITEMS && chars < CHUNK_CHARS; i++) {
      const [text, pair] = read(i);
      a.push(text);
      if (pair !== null) {
        b ??= new Array<string | null>(i - start).fill(null);
        chars += pair.length;
      }
      if (b) b.push(pair);
      chars += text.length;
    }
    buffer.add(a, b);
    start = i;
  }
  return buffer;
}
