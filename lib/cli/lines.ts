/**
 * JSONL input as lines, in bounded memory: a UTF-8 byte order mark on line 1 is dropped, CRLF
 * reads as LF, and a line longer than `maxLineBytes` is reported as too long (its bytes are
 * counted and dropped as they stream by, never held whole).
 */
import { constants } from 'node:buffer';

/**
 * The longest line (in bytes) that can be read as one string: V8's longest string
 * (buffer.constants.MAX_STRING_LENGTH UTF-16 units, which N UTF-8 bytes never exceed), less one
 * for the CR of a CRLF line, which is decoded with it.
 */
export const MAX_LINE_BYTES_LIMIT = constants.MAX_STRING_LENGTH - 1;

export type InputLine =
  | { number: number; text: string; bytes: number }
  | { number: number; tooLong: true; bytes: number };

const NEWLINE = 0x0a;
const BOM = '\uFEFF';

export async function* readLines(input: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<InputLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 0;
  const finish = (): InputLine => {
    number++;
    const bytes = size + 1;
    if (tooLong) {
      parts = [];
      size = 0;
      tooLong = false;
      return { number, tooLong: true, bytes };
    }
    let text = Buffer.concat(parts, size).toString('utf8');
    parts = [];
    size = 0;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (number === 1 && text.startsWith(BOM)) text = text.slice(1);
    return { number, text, bytes };
  };
  const append = (piece: Buffer) => {
    if (piece.length === 0) return;
    size += piece.length;
    if (tooLong) return;
    // A trailing \r (CRLF) does not count against the limit.
    if (size > maxLineBytes + 1 || (size === maxLineBytes + 1 && piece[piece.length - 1] !== 0x0d)) {
      tooLong = true;
      parts = [];
      return;
    }
    parts.push(piece);
  };
  for await (const chunk of input) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let end = data.indexOf(NEWLINE, start); end !== -1; end = data.indexOf(NEWLINE, start)) {
      append(data.subarray(start, end));
      yield finish();
      start = end + 1;
    }
    append(data.subarray(start));
  }
  if (size > 0 || tooLong) yield finish();
}
