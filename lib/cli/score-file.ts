/**
 * Scores a JSONL stream of pairs into a JSONL stream of scores, in input order, in constant
 * memory: lines are read and scored a chunk at a time, with two chunks in flight so that the model
 * always has the next one queued, and each chunk is written as soon as those before it are.
 *
 * Input lines: {"query": q, "document": d} or [q, d]; blank lines are skipped, a byte order mark
 * on line 1 is ignored, a line over maxLineBytes is a bad line.
 * Output lines: {"line": n, "score": s} (one label) or {"line": n, "scores": [...]} (several);
 * with skipBad, a bad line gives {"line": n, "error": "..."}.
 */
import type { Readable } from 'node:stream';
import type { CrossEncoder, LongDocuments, Pair } from '../cross-encoder';
import { TceError } from '../errors';
import { DEFAULT_MAX_LINE_BYTES } from './commands';
import { readLines } from './lines';
import type { LineSink } from './output';

export interface ScoreFileOptions {
  input: Readable;
  output: LineSink;
  /** Bytes a line at most (default DEFAULT_MAX_LINE_BYTES); a longer one is a bad line. */
  maxLineBytes?: number;
  /** Pairs scored per predict() call (default 1024). */
  chunkPairs?: number;
  /** Go on past a bad line, writing an error row for it (default: stop at it). */
  skipBad?: boolean;
  /** 'identity' for raw logits; default: the model's activation. */
  activation?: 'identity';
  /** How a pair longer than the model's maxLength is scored (PredictOptions.longDocuments). */
  longDocuments?: LongDocuments;
  /** Document tokens a window (PredictOptions.windowTokens). */
  windowTokens?: number;
  /** Token overlap of consecutive windows (PredictOptions.stride). */
  stride?: number;
  /** Stops reading and drops the chunks in flight; what was written stays. */
  signal?: AbortSignal;
  /** After each chunk written: pairs scored so far and bytes of input read. */
  onProgress?: (pairs: number, bytesRead: number) => void;
}

export interface ScoreFileResult {
  /** Pairs scored and written. */
  scored: number;
  /** Bad lines written as error rows (skipBad). */
  bad: number;
  /** Whether the signal stopped it before the end of the input. */
  stopped: boolean;
}

type Row = { line: number; pair: Pair } | { line: number; error: string };

/** A line as a pair, or why it is not one. */
export function parsePairLine(text: string): Pair | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
    return [value[0], value[1]];
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { query, document } = value as Record<string, unknown>;
    if (typeof query === 'string' && typeof document === 'string') return [query, document];
  }
  return 'expected {"query": string, "document": string} or [string, string]';
}

/**
 * A library error that names a pair of a chunk ("pairs[3]", e.g. a --stride not smaller than its
 * window, a query too long for --long-documents) names its input line instead.
 */
function inLines(error: unknown, lines: number[]): unknown {
  if (!(error instanceof TceError)) return error;
  const message = error.message.replace(/\bpairs\[(\d+)\]/g, (text, k: string) => (lines[Number(k)] === undefined ? text : `line ${lines[Number(k)]}`));
  return message === error.message ? error : new TceError(error.code, message, { cause: error });
}

export async function scoreFile(model: CrossEncoder, options: ScoreFileOptions): Promise<ScoreFileResult> {
  const chunkPairs = options.chunkPairs ?? 1024;
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const inFlight: Array<Promise<{ text: string; rows: number; scored: number }>> = [];
  const result: ScoreFileResult = { scored: 0, bad: 0, stopped: false };
  let rows: Row[] = [];
  let lineNumber = 0;
  let bytesRead = 0;
  let badLine: TceError | null = null;

  const predictOptions = {
    ...(options.activation ? { activation: options.activation } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.longDocuments ? { longDocuments: options.longDocuments } : {}),
    ...(options.windowTokens !== undefined ? { windowTokens: options.windowTokens } : {}),
    ...(options.stride !== undefined ? { stride: options.stride } : {}),
  };
  const submit = (chunk: Row[]) => {
    const pairs = chunk.flatMap((row) => ('pair' in row ? [row.pair] : []));
    const scoring = pairs.length === 0
      ? Promise.resolve([] as Array<number | Float32Array>)
      : model.predict(pairs, predictOptions).then((s) => Array.from(s as ArrayLike<number | Float32Array>), (error: unknown) => {
        throw inLines(error, chunk.flatMap((row) => ('pair' in row ? [row.line] : [])));
      });
    const rendered = scoring.then((scores) => {
      let next = 0;
      const text = chunk.map((row) => {
        if ('error' in row) return JSON.stringify({ line: row.line, error: row.error });
        const score = scores[next++];
        return JSON.stringify(typeof score === 'number' ? { line: row.line, score } : { line: row.line, scores: Array.from(score) });
      }).join('\n');
      return { text: text ? `${text}\n` : '', rows: chunk.length, scored: pairs.length };
    });
    // Awaited in order later; a chunk that fails (or is aborted) before then is not unhandled.
    rendered.catch(() => undefined);
    inFlight.push(rendered);
  };

  const writeOldest = async () => {
    const { text, rows, scored } = await (inFlight.shift() as Promise<{ text: string; rows: number; scored: number }>);
    if (text) await options.output.write(text, rows);
    result.scored += scored;
    options.onProgress?.(result.scored, bytesRead);
  };

  // A stop also ends a read that waits for input that may never come (an idle terminal).
  const onAbort = () => options.input.destroy();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const line of readLines(options.input, maxLineBytes)) {
      if (options.signal?.aborted || options.output.readerGone) break;
      lineNumber = line.number;
      bytesRead += line.bytes;
      if (!('tooLong' in line) && line.text.trim() === '') continue;
      const parsed = 'tooLong' in line ? `longer than ${maxLineBytes} bytes (--max-line-bytes)` : parsePairLine(line.text);
      if (typeof parsed === 'string') {
        if (!options.skipBad) {
          badLine = new TceError('TCE_INVALID_INPUT', `line ${lineNumber}: ${parsed} (--skip-bad writes an error row for it and goes on)`);
          break;
        }
        result.bad++;
        rows.push({ line: lineNumber, error: parsed });
      } else {
        rows.push({ line: lineNumber, pair: parsed });
      }
      if (rows.length >= chunkPairs) {
        submit(rows);
        rows = [];
        while (inFlight.length >= 2) await writeOldest();
      }
    }
    if (options.signal?.aborted) {
      result.stopped = true;
      // Chunks in flight reject with an AbortError; nothing more is written.
      await Promise.allSettled(inFlight);
      return result;
    }
    if (options.output.readerGone) return result;
    // The lines before a bad one are scored and written: no lost work.
    if (rows.length > 0) submit(rows);
    while (inFlight.length > 0) await writeOldest();
  } catch (error) {
    if (options.signal?.aborted) {
      result.stopped = true;
      await Promise.allSettled(inFlight);
      return result;
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (badLine) throw badLine;
  return result;
}
