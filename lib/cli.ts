#!/usr/bin/env node
/**
 * The `torch-cross-encoder` command (see USAGE). Arguments are parsed with node:util's parseArgs,
 * strictly: an unknown option is an error that names it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CrossEncoder, type LoadOptions, type Precision } from './cross-encoder';
import type { Device } from './device';
import { packageRoot } from './native';
import { runtimeInfo, type RuntimeInfo } from './runtime-info';
import { Progress } from './cli/progress';
import { scoreFile } from './cli/score-file';
import { RerankServer } from './server/server';

const USAGE = `Usage: torch-cross-encoder <command> [options]

  info [--json]                       what this machine runs on: libtorch, core, CUDA devices
  score MODEL_DIR [IN.jsonl] [-o OUT.jsonl] [--skip-bad] [--raw-scores] [--chunk N]
                                      score {"query","document"} or [q, d] lines (stdin without IN)
                                      into {"line","score"} lines, in input order
  rank MODEL_DIR --query Q DOCS.jsonl [--top-k K] [--return-documents] [--raw-scores]
                                      rank documents (lines: "text" or {"text"|"document": ...})
  serve MODEL_DIR [--port 8080] [--host 127.0.0.1] [--max-concurrent-requests 512]
        [--max-client-batch-size 32] [--payload-limit 2000000] [--api-key KEY]
                                      a TEI-compatible rerank server (POST /rerank, /predict; GET
                                      /health, /info, /metrics)
  build-core [--libtorch DIR]         build the torch core for the libtorch found (or DIR)
  export SOURCE OUT [--python PY] [-- export.py options]
                                      make a model directory from a sentence-transformers save

MODEL_DIR is a model directory made by export, or biomed-minilm-ce for the bundled model.
Model options (score, rank, serve): --device auto|cpu|cuda|cuda:N, --precision fp32|fp16|bf16,
  --max-length N, --batch-size N, --max-batch-tokens N`;

const MODEL_OPTIONS = {
  device: { type: 'string' },
  precision: { type: 'string' },
  'max-length': { type: 'string' },
  'batch-size': { type: 'string' },
  'max-batch-tokens': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

class UsageError extends Error {}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  return number;
}

function loadOptions(values: Record<string, string | boolean | undefined>): LoadOptions {
  const options: LoadOptions = {};
  if (typeof values.device === 'string') options.device = values.device as Device;
  if (typeof values.precision === 'string') options.precision = values.precision as Precision;
  const maxLength = integer('max-length', values['max-length'] as string | undefined);
  const batchSize = integer('batch-size', values['batch-size'] as string | undefined);
  const maxBatchTokens = integer('max-batch-tokens', values['max-batch-tokens'] as string | undefined);
  if (maxLength !== undefined) options.maxLength = maxLength;
  if (batchSize !== undefined) options.batchSize = batchSize;
  if (maxBatchTokens !== undefined) options.maxBatchTokens = maxBatchTokens;
  return options;
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals: string[]) {
  const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (parsed.positionals.length < positionals.length) {
    throw new UsageError(`missing ${positionals.slice(parsed.positionals.length).join(' ')}`);
  }
  return parsed;
}

function describe(info: RuntimeInfo): string {
  const lines = [
    `libtorch  ${info.libtorch.version ?? '(unknown version)'} ${info.libtorch.cudaBuild ? `CUDA ${info.libtorch.cudaVersion ?? '?'}` : 'CPU'} build, from ${info.libtorch.source}: ${info.libtorch.path}`,
    `core      ${info.core.path} (${info.core.flavour})`,
    `CUDA      ${info.cuda.available ? info.cuda.devices.map((d) => `cuda:${d.index} ${d.name}`).join(', ') : 'no device'}`,
    `auto      ${info.autoDevice.device}: ${info.autoDevice.note}`,
    `threads   ${info.cpuThreads}`,
  ];
  for (const warning of info.warnings) lines.push(`warning   ${warning}`);
  return lines.join('\n');
}

async function score(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...MODEL_OPTIONS,
    output: { type: 'string', short: 'o' },
    'skip-bad': { type: 'boolean' },
    'raw-scores': { type: 'boolean' },
    chunk: { type: 'string' },
  }, ['MODEL_DIR']);
  const [modelDir, inputFile] = positionals;
  const fromStdin = inputFile === undefined || inputFile === '-';
  // Everything is checked before the model loads and before an output file is created (or
  // truncated): a wrong path costs nothing.
  let inputSize: number | null = null;
  if (!fromStdin) {
    const stat = fs.statSync(inputFile, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw new UsageError(`${inputFile} is not a file`);
    inputSize = stat.size;
  }
  if (values.output && !fs.existsSync(path.dirname(path.resolve(values.output)))) {
    throw new UsageError(`the folder of ${values.output} does not exist`);
  }
  const chunkPairs = integer('chunk', values.chunk) ?? 1024;
  if (chunkPairs < 1) throw new UsageError('--chunk must be at least 1');
  const model = await CrossEncoder.load(modelDir, loadOptions(values));
  const input = fromStdin ? process.stdin : fs.createReadStream(inputFile);
  const output = values.output ? fs.createWriteStream(values.output) : process.stdout;
  const stop = new AbortController();
  // A reader that goes away (`| head`: EPIPE) stops the run like Ctrl-C; any other stream error
  // stops it and is reported.
  let streamError: Error | null = null;
  let readerGone = false;
  const onStreamError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') readerGone = true;
    else streamError ??= error;
    stop.abort();
  };
  output.on('error', onStreamError);
  input.on('error', onStreamError);
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const progress = new Progress();
  try {
    const result = await scoreFile(model, {
      input,
      output,
      skipBad: values['skip-bad'] ?? false,
      chunkPairs,
      signal: stop.signal,
      ...(values['raw-scores'] ? { activation: 'identity' as const } : {}),
      onProgress: (pairs, bytes) => progress.update(pairs, inputSize ? Math.min(1, bytes / inputSize) : null),
    });
    progress.done(result.scored);
    if (streamError) throw new Error(`${(streamError as Error).message}; ${result.scored} pairs were scored and written`);
    if (readerGone) return 0; // as other Unix tools do when the reader has all it wanted
    if (result.stopped) {
      console.error(`torch-cross-encoder: stopped; ${result.scored} pairs scored and written`);
      return 130;
    }
    if (result.bad > 0) console.error(`torch-cross-encoder: ${result.bad} bad line(s) written as error rows`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (input !== process.stdin) (input as fs.ReadStream).destroy();
    if (output !== process.stdout) await new Promise((resolve) => (output as fs.WriteStream).end(resolve));
    await model.dispose({ abort: true });
  }
}

function readDocuments(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').map((line, i) => [line, i + 1] as const).filter(([line]) => line.trim() !== '').map(([line, number]) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`${file} line ${number}: not JSON`);
    }
    if (typeof value === 'string') return value;
    const record = value as Record<string, unknown> | null;
    const text = record?.text ?? record?.document;
    if (typeof text !== 'string') throw new UsageError(`${file} line ${number}: expected a string or {"text": string}`);
    return text;
  });
}

async function rank(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...MODEL_OPTIONS,
    query: { type: 'string', short: 'q' },
    'top-k': { type: 'string' },
    'return-documents': { type: 'boolean' },
    'raw-scores': { type: 'boolean' },
  }, ['MODEL_DIR', 'DOCS.jsonl']);
  if (values.query === undefined) throw new UsageError('missing --query');
  const documents = readDocuments(positionals[1]);
  const model = await CrossEncoder.load(positionals[0], loadOptions(values));
  try {
    const topK = integer('top-k', values['top-k']);
    const ranked = await model.rank(values.query, documents, {
      returnDocuments: values['return-documents'] ?? false,
      ...(topK !== undefined ? { topK } : {}),
      ...(values['raw-scores'] ? { activation: 'identity' as const } : {}),
    });
    for (const r of ranked) process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  } finally {
    await model.dispose();
  }
}

async function serve(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...MODEL_OPTIONS,
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    'max-concurrent-requests': { type: 'string' },
    'max-client-batch-size': { type: 'string' },
    'payload-limit': { type: 'string' },
    'api-key': { type: 'string' },
  }, ['MODEL_DIR']);
  const model = await CrossEncoder.load(positionals[0], loadOptions(values));
  const server = new RerankServer(model, {
    maxConcurrentRequests: integer('max-concurrent-requests', values['max-concurrent-requests']),
    maxClientBatchSize: integer('max-client-batch-size', values['max-client-batch-size']),
    maxPayloadBytes: integer('payload-limit', values['payload-limit']),
    apiKey: values['api-key'] ?? process.env.TCE_API_KEY,
    modelId: path.basename(model.modelDir),
  });
  const address = await server.listen(integer('port', values.port) ?? 8080, values.host ?? '127.0.0.1');
  console.error(`torch-cross-encoder: serving ${model.modelDir} on ${model.device} at http://${address.address}:${address.port}`);
  // Graceful shutdown: stop accepting, finish the requests in flight, then release the model.
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      console.error('torch-cross-encoder: shutting down after the requests in flight');
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await model.dispose();
  return 0;
}

function exportModel(args: string[]): number {
  const split = args.indexOf('--');
  const own = split < 0 ? args : args.slice(0, split);
  const passThrough = split < 0 ? [] : args.slice(split + 1);
  const { values, positionals } = parse(own, { python: { type: 'string' } }, ['SOURCE', 'OUT']);
  const python = values.python ?? process.env.TCE_PYTHON ?? 'python3';
  const script = path.join(packageRoot, 'scripts', 'export.py');
  const result = spawnSync(python, [script, positionals[0], positionals[1], ...passThrough], { stdio: 'inherit' });
  if (result.error) throw new UsageError(`cannot run ${python}: ${result.error.message} (--python names the Python with torch and transformers)`);
  return result.status ?? 1;
}

function buildCore(args: string[]): number {
  const { values } = parse(args, { libtorch: { type: 'string' } }, []);
  const env = { ...process.env };
  if (values.libtorch) env.TCE_LIBTORCH = path.resolve(values.libtorch);
  return spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'build-core.mjs')], { stdio: 'inherit', env }).status ?? 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'info': {
      const { values } = parse(rest, { json: { type: 'boolean' } }, []);
      const info = runtimeInfo();
      console.log(values.json ? JSON.stringify(info, null, 2) : describe(info));
      return 0;
    }
    case 'score': return score(rest);
    case 'rank': return rank(rest);
    case 'serve': return serve(rest);
    case 'export': return exportModel(rest);
    case 'build-core': return buildCore(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error & { code?: string }) => {
    const usage = error instanceof UsageError || error.code?.startsWith('ERR_PARSE_ARGS');
    console.error(`torch-cross-encoder: ${error.message}${usage ? `\n\n${USAGE}` : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
