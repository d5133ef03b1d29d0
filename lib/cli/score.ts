/** `score`: a JSONL file (or stdin) of pairs into a JSONL file (or stdout) of scores. */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { CrossEncoder } from '../cross-encoder';
import { TceError } from '../errors';
import { flagErrors, integerFlag, type ParsedArgs, UsageError } from './args';
import { DEFAULT_MAX_LINE_BYTES } from './commands';
import { MAX_LINE_BYTES_LIMIT } from './lines';
import { loadOptions, longDocumentOptions } from './model-options';
import { type LineSink, openOutput } from './output';
import { checkInput, checkOutput } from './paths';
import { Progress } from './progress';
import { scoreFile } from './score-file';

export function maxLineBytes(values: ParsedArgs['values']): number {
  const value = integerFlag('max-line-bytes', values['max-line-bytes']) ?? DEFAULT_MAX_LINE_BYTES;
  if (value < 1 || value > MAX_LINE_BYTES_LIMIT) {
    throw new UsageError(`--max-line-bytes must be from 1 to ${MAX_LINE_BYTES_LIMIT} (the longest string this Node can hold, buffer.constants.MAX_STRING_LENGTH, less one), got ${value}`);
  }
  return value;
}

export function openInput(input: string): Readable {
  return input === '-' ? process.stdin : fs.createReadStream(input);
}

export async function score({ values, positionals }: ParsedArgs): Promise<number> {
  const [modelDir, inputArg] = positionals;
  const input = inputArg ?? '-';
  const output = typeof values.output === 'string' ? values.output : '-';
  // Everything is checked before the model loads and before an output file is created (or
  // truncated): a wrong path costs nothing.
  checkInput(input);
  checkOutput(output, input);
  const chunkPairs = integerFlag('chunk', values.chunk) ?? 1024;
  if (chunkPairs < 1) throw new UsageError('--chunk must be at least 1');
  const lineLimit = maxLineBytes(values);
  const longDocuments = longDocumentOptions(values);
  const inputSize = input === '-' ? null : fs.statSync(input).size;
  const model = await CrossEncoder.load(modelDir, loadOptions(values)).catch((error: unknown) => {
    throw flagErrors(error);
  });
  let sink: LineSink | null = null;
  const stream = openInput(input);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let readError: Error | null = null;
  stream.on('error', (error) => {
    // An AbortError is the stream destroyed by us (a stop, or reading ended early at a bad line).
    if (error.name === 'AbortError') return;
    readError ??= error;
    stop.abort();
  });
  const progress = new Progress();
  try {
    sink = openOutput(output);
    const result = await scoreFile(model, {
      input: stream,
      output: sink,
      skipBad: values['skip-bad'] === true,
      chunkPairs,
      maxLineBytes: lineLimit,
      signal: stop.signal,
      ...(values['raw-scores'] ? { activation: 'identity' as const } : {}),
      ...longDocuments,
      onProgress: (pairs, bytes) => progress.update(pairs, inputSize ? Math.min(1, bytes / inputSize) : null),
    });
    progress.done(result.scored);
    if (readError) throw new Error(`cannot read ${input === '-' ? 'stdin' : input}: ${(readError as Error).message}; ${sink.linesWritten} lines were written`);
    if (sink.readerGone) return 0; // as other Unix tools do when the reader has all it wanted
    if (result.stopped) {
      console.error(`torch-cross-encoder: stopped; ${result.scored} pairs scored and written`);
      return 130;
    }
    if (result.bad > 0) console.error(`torch-cross-encoder: ${result.bad} bad line(s) written as error rows`);
    return 0;
  } catch (error) {
    // A bad line: say how far the output got (an OutputError says it itself).
    if (sink && error instanceof TceError && error.code === 'TCE_INVALID_INPUT') error.message += `; the ${sink.linesWritten} lines before it were written`;
    // An option the library refused for these pairs (e.g. a --stride not smaller than a window).
    throw flagErrors(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stream !== process.stdin) stream.destroy();
    await sink?.close();
    await model.dispose({ abort: true });
  }
}
