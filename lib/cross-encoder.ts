/**
 * CrossEncoder: a camelCase twin of sentence-transformers' CrossEncoder.predict / rank
 * (DESIGN.md section 3), running a TorchScript model through the native engine.
 */
import os from 'node:os';
import { loadRuntime } from './core';
import { resolveDevice } from './device';
import { abortError, TceError } from './errors';
import { readModelDir, type Activation, type ModelDirInfo } from './model-dir';
import { native, type NativeModel, type NativeModelStats } from './native';
import { readExportMetadata } from './torchscript-archive';
import { nativeTokenizerOf, Tokenizer } from './tokenizer';
import { minorVersion } from './libtorch';

import type { Device } from './device';
export type { Device } from './device';
export type Precision = 'fp16' | 'bf16' | 'fp32';
export type { Activation } from './model-dir';

export interface LoadOptions {
  /** 'auto' (default): the first CUDA device when there is one, else the CPU. */
  device?: Device;
  /** Default 'fp16' on CUDA (autocast), 'fp32' on CPU. */
  precision?: Precision;
  /** Tokens a pair is truncated to; default and upper bound come from the model files. */
  maxLength?: number;
  /**
   * Pairs a forward at most. Default 32 on the CPU, as sentence-transformers; 1024 on CUDA, so
   * that there the token budget (maxBatchTokens) is what bounds a forward of ordinary pairs.
   */
  batchSize?: number;
  /**
   * Tokens a forward at most, padding included. Default 16384 on CUDA (big forwards keep the
   * GPU busy) and 1024 on the CPU, where a forward gains little from size and length-sorted
   * small batches compute little padding (bench/results/cpu-*.json).
   */
  maxBatchTokens?: number;
  /** Overrides the activation stored in config.json. */
  activation?: Activation;
  /**
   * Let concurrent predict()/rank() calls on this model share forwards (default true): a
   * server's many small requests then still fill the device.
   */
  shareBatches?: boolean;
  /**
   * When the model is idle and fewer pairs are pending than fill a batch, wait up to this long
   * for other calls to join (default 0: start at once; calls that arrive while a forward runs
   * join the next one anyway).
   */
  maxWaitMs?: number;
  /**
   * CPU threads libtorch uses for this model's forwards (default on the CPU: every available
   * core, os.availableParallelism(); libtorch's own default can count fewer in VMs and
   * containers). The tokenizer uses the same cores between forwards.
   */
  cpuThreads?: number;
  /** A libtorch folder to use instead of discovery (see README). */
  libtorch?: string;
}

export interface PredictOptions {
  batchSize?: number;
  maxBatchTokens?: number;
  activation?: Activation;
  /** Softmax over labels after the activation; as upstream, also on 1-label models (all 1.0). */
  applySoftmax?: boolean;
  /** Called after each batch with the number of pairs scored so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stops scheduling further batches and rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface RankOptions extends PredictOptions {
  /** Keep only the best topK results. */
  topK?: number;
  /** Include each document's text in its result. */
  returnDocuments?: boolean;
}

export interface RankResult {
  corpusId: number;
  score: number;
  text?: string;
}

export type Pair = readonly [string, string];

/** Counters since the model was loaded (see CrossEncoder.stats()). */
export type EngineStats = NativeModelStats;

const PRECISION_CODES: Record<Precision, number> = { fp32: 0, fp16: 1, bf16: 2 };
const ACTIVATION_CODES: Record<Activation, number> = { identity: 0, sigmoid: 1, tanh: 2, softmax: 3 };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}

function checkPositiveInteger(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TceError('TCE_INVALID_OPTION', `${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkActivation(name: string, value: unknown): Activation | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(value in ACTIVATION_CODES)) {
    throw new TceError('TCE_INVALID_OPTION', `${name} must be one of ${Object.keys(ACTIVATION_CODES).join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as Activation;
}

/** Validates pairs and splits them into the two segment arrays the native side takes. */
function splitPairs(pairs: readonly unknown[]): { a: string[]; b: string[] } {
  const a = new Array<string>(pairs.length);
  const b = new Array<string>(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new TypeError(`pairs[${i}] must be [string, string], got ${describe(pair)}${Array.isArray(pair) ? ` (${pair.map(describe).join(', ')})` : ''}`);
    }
    a[i] = pair[0];
    b[i] = pair[1];
  }
  return { a, b };
}

function resolvePrecision(device: string, requested: unknown): Precision {
  if (requested === undefined) return device === 'cpu' ? 'fp32' : 'fp16';
  if (typeof requested !== 'string' || !(requested in PRECISION_CODES)) {
    throw new TceError('TCE_INVALID_OPTION', `precision must be 'fp16', 'bf16' or 'fp32'; got ${JSON.stringify(requested)}`);
  }
  if (requested === 'fp16' && device === 'cpu') {
    throw new TceError('TCE_INVALID_OPTION', "precision 'fp16' runs on CUDA only; on the CPU use 'fp32' (the default) or 'bf16'.");
  }
  return requested as Precision;
}

function resolveMaxLength(info: ModelDirInfo, tokenizerMax: number | undefined, requested: unknown): number {
  const limits = [tokenizerMax, info.maxPositionEmbeddings].filter((v): v is number => typeof v === 'number' && v > 0 && v < 1e9);
  const modelMax = limits.length > 0 ? Math.min(...limits) : 512;
  if (requested === undefined) return modelMax;
  const value = checkPositiveInteger('maxLength', requested) as number;
  if (value < 3) throw new TceError('TCE_INVALID_OPTION', `maxLength must be at least 3 ([CLS] and two [SEP]); got ${value}`);
  if (info.maxPositionEmbeddings !== null && value > info.maxPositionEmbeddings) {
    throw new TceError(
      'TCE_INVALID_OPTION',
      `maxLength ${value} is above the model's max_position_embeddings (${info.maxPositionEmbeddings} in config.json): the model has no position embeddings past that.`,
    );
  }
  return value;
}

/** Explains a model.pt that libtorch refused, naming the PyTorch that exported it when known. */
function loadFailure(info: ModelDirInfo, message: string): TceError {
  const runtime = loadRuntime();
  const metadata = readExportMetadata(info.modelPath);
  const libtorchVersion = runtime.libtorch.version ?? runtime.core.torchVersion;
  const exportedBy = typeof metadata?.torch_version === 'string' ? metadata.torch_version : null;
  const newer = exportedBy !== null && compareVersions(minorVersion(exportedBy), minorVersion(libtorchVersion)) > 0;
  const schemaProblem = /Unknown builtin op|Unknown type name|schema|Arguments for call are not valid|maximum supported version/i.test(message);
  let hint = '';
  if (newer) {
    hint = `\nmodel.pt was exported by PyTorch ${exportedBy}, newer than this libtorch (${libtorchVersion}); operators change between versions. ` +
      `Re-export it with PyTorch ${minorVersion(libtorchVersion)} (python3 scripts/export.py), or run on a libtorch >= ${minorVersion(exportedBy)} (TCE_LIBTORCH, see README).`;
  } else if (schemaProblem) {
    hint = `\nmodel.pt may have been exported by a newer PyTorch than this libtorch (${libtorchVersion}); re-export it with the PyTorch that matches, or use a newer libtorch.`;
  } else if (/zip archive|central directory|PytorchStreamReader|constants\.pkl|data\.pkl/i.test(message)) {
    hint = '\nmodel.pt is not a readable TorchScript archive (truncated or corrupt?). Re-export it with scripts/export.py.';
  }
  return new TceError('TCE_MODEL_LOAD_FAILED', `Could not load ${info.modelPath}: ${message.trim()}${hint}`);
}

function compareVersions(x: string, y: string): number {
  const a = x.split('.').map(Number);
  const b = y.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function nativeError(error: unknown, signal?: AbortSignal): Error {
  const e = error as Error & { code?: string };
  if (e?.code === 'ABORT_ERR' && signal) return abortError(signal);
  if (e?.code === 'TCE_DISPOSED' || e?.code === 'TCE_FORWARD_FAILED') return new TceError(e.code, e.message, { cause: e });
  return e;
}

export class CrossEncoder {
  readonly numLabels: number;
  readonly maxLength: number;
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  readonly precision: Precision;
  readonly tokenizer: Tokenizer;
  readonly modelDir: string;
  private readonly defaults: Required<Pick<LoadOptions, 'batchSize' | 'maxBatchTokens' | 'activation'>>;
  private model: NativeModel | null;

  private constructor(info: ModelDirInfo, tokenizer: Tokenizer, model: NativeModel, settings: {
    device: string; precision: Precision; maxLength: number; batchSize: number; maxBatchTokens: number; activation: Activation;
  }) {
    this.modelDir = info.dir;
    this.numLabels = info.numLabels;
    this.tokenizer = tokenizer;
    this.model = model;
    this.device = settings.device;
    this.precision = settings.precision;
    this.maxLength = settings.maxLength;
    this.defaults = { batchSize: settings.batchSize, maxBatchTokens: settings.maxBatchTokens, activation: settings.activation };
  }

  /** Loads a model directory (see README: model.pt + the tokenizer and config files). */
  static async load(modelDir: string, options: LoadOptions = {}): Promise<CrossEncoder> {
    if (typeof modelDir !== 'string') throw new TypeError(`modelDir must be a string, got ${describe(modelDir)}`);
    const info = readModelDir(modelDir);
    const requestedBatchSize = checkPositiveInteger('batchSize', options.batchSize);
    const requestedBatchTokens = checkPositiveInteger('maxBatchTokens', options.maxBatchTokens);
    const activation = checkActivation('activation', options.activation) ?? info.defaultActivation;
    const maxWaitMs = options.maxWaitMs ?? 0;
    if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0) || maxWaitMs > 60_000) {
      throw new TceError('TCE_INVALID_OPTION', `maxWaitMs must be a number of milliseconds from 0 to 60000, got ${JSON.stringify(options.maxWaitMs)}`);
    }
    const cpuThreads = checkPositiveInteger('cpuThreads', options.cpuThreads);
    const tokenizer = Tokenizer.fromModelDir(info.dir);
    const maxLength = resolveMaxLength(info, tokenizer.modelMaxLength, options.maxLength);
    loadRuntime({ libtorch: options.libtorch });
    const device = resolveDevice(options.device ?? 'auto');
    const precision = resolvePrecision(device, options.precision);
    const maxBatchTokens = requestedBatchTokens ?? (device === 'cpu' ? 1024 : 16384);
    const batchSize = requestedBatchSize ?? (device === 'cpu' ? 32 : 1024);
    const model = new (native().Model)(nativeTokenizerOf(tokenizer), {
      path: info.modelPath,
      device,
      precision: PRECISION_CODES[precision],
      numLabels: info.numLabels,
      maxLength,
      shareBatches: options.shareBatches ?? true,
      maxWaitMs,
      cpuThreads: cpuThreads ?? (device === 'cpu' ? os.availableParallelism() : 0),
    });
    try {
      await model.load();
    } catch (error) {
      throw loadFailure(info, (error as Error).message);
    }
    return new CrossEncoder(info, tokenizer, model, { device, precision, maxLength, batchSize, maxBatchTokens, activation });
  }

  /**
   * Scores one pair (-> a number; a Float32Array of labels on a multi-label model) or a list of
   * pairs (-> Float32Array(N); one Float32Array row per pair on a multi-label model).
   */
  predict(pair: Pair, options?: PredictOptions): Promise<number | Float32Array>;
  predict(pairs: readonly Pair[], options?: PredictOptions): Promise<Float32Array | Float32Array[]>;
  async predict(input: Pair | readonly Pair[], options: PredictOptions = {}): Promise<number | Float32Array | Float32Array[]> {
    if (!Array.isArray(input)) throw new TypeError(`predict() takes a [query, document] pair or an array of them, got ${describe(input)}`);
    const single = typeof input[0] === 'string';
    if (single && (input.length !== 2 || typeof input[1] !== 'string')) {
      throw new TypeError(`predict(): a single pair must be [string, string], got an array of length ${input.length} starting with a string`);
    }
    const pairs = (single ? [input] : input) as readonly unknown[];
    const scores = await this.score(pairs, options);
    if (this.numLabels === 1) return single ? scores[0] : scores;
    const rows = Array.from({ length: pairs.length }, (_, i) => scores.subarray(i * this.numLabels, (i + 1) * this.numLabels));
    return single ? rows[0] : rows;
  }

  /** Scores [query, doc] for each doc and returns them best first (stable among ties). */
  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult[]> {
    if (this.numLabels !== 1) {
      throw new TceError('TCE_INVALID_OPTION', 'CrossEncoder.rank() only works for models with num_labels=1. Consider using CrossEncoder.predict() with input pairs instead.');
    }
    if (typeof query !== 'string') throw new TypeError(`rank(): query must be a string, got ${describe(query)}`);
    if (!Array.isArray(documents)) throw new TypeError(`rank(): documents must be an array of strings, got ${describe(documents)}`);
    const { topK, returnDocuments, ...predictOptions } = options;
    if (topK !== undefined && (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0)) {
      throw new TceError('TCE_INVALID_OPTION', `topK must be a non-negative integer, got ${JSON.stringify(topK)}`);
    }
    documents.forEach((d, i) => {
      if (typeof d !== 'string') throw new TypeError(`documents[${i}] must be a string, got ${describe(d)}`);
    });
    const scores = await this.score(documents.map((d) => [query, d]), predictOptions);
    const results: RankResult[] = Array.from(scores, (score, corpusId) =>
      returnDocuments ? { corpusId, score, text: documents[corpusId] } : { corpusId, score });
    results.sort((x, y) => y.score - x.score); // Array.prototype.sort is stable
    return topK === undefined ? results : results.slice(0, topK);
  }

  private async score(pairs: readonly unknown[], options: PredictOptions): Promise<Float32Array> {
    const model = this.model;
    if (!model) throw new TceError('TCE_DISPOSED', 'This CrossEncoder is disposed.');
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { a, b } = splitPairs(pairs);
    const batchSize = checkPositiveInteger('batchSize', options.batchSize) ?? this.defaults.batchSize;
    const maxBatchTokens = checkPositiveInteger('maxBatchTokens', options.maxBatchTokens) ?? this.defaults.maxBatchTokens;
    const activation = checkActivation('activation', options.activation) ?? this.defaults.activation;
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new TypeError('onProgress must be a function');
    const signal = options.signal;
    if (signal?.aborted) throw abortError(signal);
    if (pairs.length === 0) return new Float32Array(0);

    const call = model.predict(a, b, {
      batchSize,
      maxBatchTokens,
      activation: ACTIVATION_CODES[activation],
      applySoftmax: Boolean(options.applySoftmax),
      onProgress: options.onProgress,
    });
    if (!signal) return call.promise.catch((e: unknown) => { throw nativeError(e); });
    return new Promise<Float32Array>((resolve, reject) => {
      const onAbort = () => {
        call.cancel();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.promise.then(
        (scores) => {
          signal.removeEventListener('abort', onAbort);
          resolve(scores);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(nativeError(error, signal));
        },
      );
    });
  }

  /** Counters of the engine since load: forwards, pairs, real and padded tokens, time. */
  stats(): EngineStats {
    if (!this.model) throw new TceError('TCE_DISPOSED', 'This CrossEncoder is disposed.');
    return this.model.stats();
  }

  /** Frees the model (and its GPU memory). Calls already running finish or reject cleanly. */
  async dispose(): Promise<void> {
    const model = this.model;
    this.model = null;
    if (model) await model.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
