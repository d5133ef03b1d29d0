/**
 * CrossEncoder: a camelCase twin of sentence-transformers' CrossEncoder.predict / rank (README,
 * *Use*), running a TorchScript model through the native engine.
 */
import { resolveModelDir } from './bundled-model';
import { CausalPairs, checkPaddingSide } from './chat/causal-pairs';
import { resolvePrompt } from './chat/prompts';
import { readCausalModules, readSavedPrompts, type SavedPrompts } from './chat/saved-config';
import { loadRuntimeAsync } from './core';
import { cpuBf16 } from './cpu/features';
import { defaultCpuThreads } from './cpu/threads';
import { resolveDevice } from './device';
import { abortError, fromNative, TceError } from './errors';
import { loadFailure } from './load-failure';
import { LONG_DOCUMENTS, scoreLongDocuments, WINDOW_PLAN, type LongDocuments, type Span, type WindowPlan } from './long-documents';
import { checkTokenizerFitsModel, readModelDir, type Activation, type ModelDirInfo } from './model-dir';
import { native, type NativeModel, type NativeModelStats } from './native';
import { runNativeCall, type ProgressCallback } from './native-call';
import { transferTexts } from './text-transfer';
import { nativeTokenizerOf, Tokenizer } from './tokenizer';
import {
  booleanOption, checkArray, checkPair, checkString, describe, enumOption, functionOption, integerOption, invalidInput,
  invalidOption, LIMITS, numberOption, optionsObject, signalOption, stringOption, tf32Option,
} from './validate';

import type { Device } from './device';
export type { Device } from './device';
export type Precision = 'fp16' | 'bf16' | 'fp32';
/** A precision option: one of the precisions, or 'auto' (the fastest one that keeps rankings). */
export type PrecisionOption = Precision | 'auto';
export { defaultCpuThreads } from './cpu/threads';
export type { Activation } from './model-dir';
export type { LongDocuments } from './long-documents';

/**
 * What predict() gives for one pair: a number on a one-label model (`MultiLabel` false), a
 * Float32Array of the labels' scores on a model with several labels (true), either when the
 * type does not say (boolean).
 */
export type PairScore<MultiLabel extends boolean> = MultiLabel extends false ? number : Float32Array;

/**
 * What predict() gives for a list of pairs: a Float32Array with one score a pair on a one-label
 * model, one Float32Array row a pair on a model with several labels.
 */
export type PairScores<MultiLabel extends boolean> = MultiLabel extends false ? Float32Array : Float32Array[];

/**
 * Options of `CrossEncoder.load()`. `MultiLabel` is the type of the `multiLabel` option, which
 * sets the types predict() returns.
 */
export interface LoadOptions<MultiLabel extends boolean = boolean> {
  /**
   * 'auto' (default): the first CUDA device when there is one, else the CPU; or 'cpu', 'cuda'
   * (device 0), 'cuda:N'. A CUDA device that is not there is TCE_CUDA_UNAVAILABLE.
   */
  device?: Device;
  /**
   * 'fp16' (the default on CUDA) or 'bf16' run forward under autocast; 'fp32' (the default on
   * the CPU, where 'fp16' is an error). 'auto': 'fp16' on CUDA; on the CPU 'bf16' where it has
   * bf16 matmuls (AMX or AVX512-BF16: runtimeInfo().cpu.bf16), else 'fp32'. Scores are float32 in
   * every case.
   */
  precision?: PrecisionOption;
  /**
   * Tokens a pair is truncated to (longest first), 3 to 2^20. Default: the smaller of the
   * tokenizer's model_max_length and config.json's max_position_embeddings; above the latter is
   * an error.
   */
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
  /**
   * The activation applied to the logits, overriding the model's default (sentence-transformers'
   * activation_fn from the model files; else sigmoid for one label, identity for more).
   */
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
   * CPU threads libtorch uses for this model's forwards (default on the CPU: the cores this
   * process may use, its CPU affinity capped by its cgroup's CPU quota, rounded up:
   * defaultCpuThreads(); libtorch's own default counts every online core), at most
   * LIMITS.cpuThreads.max. Tokenizing is not bound by it: the model's
   * tokenizing thread spreads each call over a shared pool of one thread per core, while forwards
   * run (native/engine/model_runner.h).
   */
  cpuThreads?: number;
  /**
   * Let float32 matmuls use TF32 tensor cores (precision 'fp32' on CUDA, Ampere or later):
   * faster, with about fp16's 10-bit mantissa in the products and float32 sums. Default false.
   * libtorch's switch is process-wide, so every CUDA fp32 model of a process must use the same
   * setting (loading one with the other setting is TCE_INVALID_OPTION); with precision 'fp16' or
   * 'bf16' it is an error; on the CPU it has no effect.
   */
  tf32?: boolean;
  /**
   * A libtorch folder to use instead of discovery (a libtorch folder, its lib/, or a pip torch
   * package folder; see README, *How it is built*).
   */
  libtorch?: string;
  /**
   * Says whether the model has several labels, checked at load (an error when config.json's
   * num_labels disagrees). TypeScript takes predict()'s result types from it: with
   * `multiLabel: true`, a pair gives a Float32Array of labels and a list one row a pair. Left
   * out, the types are a one-label model's (a number a pair; a Float32Array for a list) and
   * nothing is checked: a model with several labels still returns rows, as sentence-transformers
   * does.
   */
  multiLabel?: MultiLabel;
}

/** Options of `predict()` (and of `rank()`); each overrides the model's load option for this call. */
export interface PredictOptions {
  /** Pairs a forward at most (1 to 2^20); bounds every forward that carries this call's pairs. */
  batchSize?: number;
  /** Tokens a forward at most, padding included (1 to 2^26); bounds every forward that carries this call's pairs. */
  maxBatchTokens?: number;
  /** The activation for this call's scores ('identity' gives logits). */
  activation?: Activation;
  /** Softmax over labels after the activation; as upstream, also on 1-label models (all 1.0). */
  applySoftmax?: boolean;
  /**
   * Called after each batch with the number of pairs scored so far and the total. If it throws
   * (or returns a promise that rejects), the call stops and rejects with that error; the model
   * stays usable.
   */
  onProgress?: (done: number, total: number) => unknown;
  /** When aborted, no further batch of this call starts and the call rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * How documents are scored (docs/LONG-DOCUMENTS.md): 'truncate' (default) cuts a pair longer
   * than maxLength, longest first, as sentence-transformers; 'max', 'mean' and 'first' split a
   * document longer than the window (windowTokens, and what fits beside the whole query in
   * maxLength) into windows of whole tokens, score every window (in the same batches as the other
   * pairs) and give the best window's score, the mean of the windows' scores, or the first
   * window's. A document that fits in one window is scored as it is in every mode. 'max' needs a
   * one-label model. onProgress then counts documents, not windows.
   */
  longDocuments?: LongDocuments;
  /**
   * Document tokens a window holds at most (1 to 2^20; also at most what fits beside the query in
   * maxLength). Default DEFAULT_WINDOW_TOKENS (exported), whatever maxLength is: a short window lets the
   * model see the evidence rather than drown it in unrelated text (docs/LONG-DOCUMENTS.md). Only
   * with longDocuments 'max', 'mean' or 'first'.
   */
  windowTokens?: number;
  /**
   * Tokens consecutive windows share at most (windows start at a word), 0 to the window's size - 1.
   * Default: a quarter of the window. Only with longDocuments 'max', 'mean' or 'first'.
   */
  stride?: number;
  /**
   * A prompt for this call, as sentence-transformers' `prompt`: on a causal-LM reranker it becomes
   * a `system` message of the chat template (README, *Causal-LM rerankers*); on other models it is
   * put before the query. Wins over promptName. An empty string means no prompt.
   */
  prompt?: string;
  /**
   * The name of a prompt saved with the model (config_sentence_transformers.json `prompts`), as
   * sentence-transformers' `prompt_name`. Default: the model's default_prompt_name, if it has one.
   */
  promptName?: string;
}

/** Options of `rank()`: predict()'s, and what to return. */
export interface RankOptions extends PredictOptions {
  /** Keep only the best topK results (NaN scores sort last). Default: all. */
  topK?: number;
  /** Include each document's text in its result (`text`). Default false. */
  returnDocuments?: boolean;
  /**
   * Include the best window of each document in its result (`passage`): the highest-scoring
   * window with 'max' and 'mean', the first with 'first'; the whole document when it fits in one
   * window. Needs longDocuments 'max', 'mean' or 'first'. Default false.
   */
  returnPassage?: boolean;
}

/** A window of a document: `document.slice(start, end) === text` (UTF-16 indices). */
export interface Passage {
  start: number;
  end: number;
  text: string;
}

/** One document of a `rank()` result. */
export interface RankResult {
  /** The document's index in the documents given to rank(). */
  corpusId: number;
  /** Its score (after the activation). */
  score: number;
  /** The document, with `returnDocuments: true`. */
  text?: string;
  /** The document's best window, with `returnPassage: true`. */
  passage?: Passage;
}

/** A (query, document) pair. Readonly, so that `[q, d] as const` and `docs.map((d) => [q, d])` fit. */
export type Pair = readonly [query: string, document: string];

/** Counters since the model was loaded (see CrossEncoder.stats()). */
export type EngineStats = NativeModelStats;

const PRECISIONS = ['fp32', 'fp16', 'bf16', 'auto'] as const satisfies readonly PrecisionOption[];
const ACTIVATIONS = ['sigmoid', 'identity', 'tanh', 'softmax'] as const satisfies readonly Activation[];
const DEVICE_PATTERN = /^(auto|cpu|cuda(:\d+)?)$/;

// The option names each call knows, spelt out as objects so that the compiler checks them
// against the interfaces: an option added there and forgotten here does not compile.
const LOAD_OPTIONS = Object.keys({
  device: 1, precision: 1, maxLength: 1, batchSize: 1, maxBatchTokens: 1, activation: 1, shareBatches: 1, maxWaitMs: 1, cpuThreads: 1, tf32: 1, libtorch: 1,
  multiLabel: 1,
} satisfies Record<keyof LoadOptions, 1>);
const PREDICT_OPTIONS = Object.keys({
  batchSize: 1, maxBatchTokens: 1, activation: 1, applySoftmax: 1, onProgress: 1, signal: 1, longDocuments: 1, windowTokens: 1, stride: 1,
  prompt: 1, promptName: 1,
} satisfies Record<keyof PredictOptions, 1>);
const RANK_OPTIONS = [...PREDICT_OPTIONS, ...Object.keys({ topK: 1, returnDocuments: 1, returnPassage: 1 } satisfies Record<Exclude<keyof RankOptions, keyof PredictOptions>, 1>)];

export interface DisposeOptions {
  /**
   * Stop calls that are already running after the forward in progress (they reject with
   * TCE_DISPOSED) instead of letting them finish. Default false.
   */
  abort?: boolean;
}

/** Load options, checked before anything is read or loaded. */
function checkLoadOptions(options: unknown) {
  const o = optionsObject('CrossEncoder.load() options', options, LOAD_OPTIONS);
  const device = stringOption('device', o.device) ?? 'auto';
  if (!DEVICE_PATTERN.test(device)) {
    throw invalidOption(`device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got ${describe(o.device)}`);
  }
  return {
    device: device as Device,
    precision: enumOption('precision', o.precision, PRECISIONS),
    maxLength: integerOption('maxLength', o.maxLength),
    batchSize: integerOption('batchSize', o.batchSize),
    maxBatchTokens: integerOption('maxBatchTokens', o.maxBatchTokens),
    activation: enumOption('activation', o.activation, ACTIVATIONS),
    shareBatches: booleanOption('shareBatches', o.shareBatches) ?? true,
    maxWaitMs: numberOption('maxWaitMs', o.maxWaitMs) ?? 0,
    cpuThreads: integerOption('cpuThreads', o.cpuThreads),
    tf32: booleanOption('tf32', o.tf32) ?? false,
    libtorch: stringOption('libtorch', o.libtorch),
    multiLabel: booleanOption('multiLabel', o.multiLabel),
  };
}

/** The multiLabel load option against the model's num_labels (no check when it is left out). */
function checkMultiLabel(info: ModelDirInfo, multiLabel: boolean | undefined): void {
  if (multiLabel === undefined || multiLabel === info.numLabels > 1) return;
  throw invalidOption(
    `multiLabel: ${multiLabel}, but the model in ${info.dir} has ${info.numLabels} label${info.numLabels === 1 ? '' : 's'} ` +
      `(config.json num_labels). Load it with multiLabel: ${!multiLabel}, or leave the option out.`,
  );
}

function resolvePrecision(device: string, requested: PrecisionOption | undefined): Precision {
  if (requested === undefined) return device === 'cpu' ? 'fp32' : 'fp16';
  if (requested === 'auto') return device !== 'cpu' ? 'fp16' : cpuBf16().fast ? 'bf16' : 'fp32';
  if (requested === 'fp16' && device === 'cpu') {
    throw invalidOption("precision 'fp16' runs on CUDA only; on the CPU use 'fp32' (the default) or 'bf16'.");
  }
  return requested;
}

/**
 * The pair length: the request, else the model's bound. Either must leave room for one query token
 * and one document token beside the `specials` special tokens the tokenizer adds to a pair: a
 * shorter one would cut every pair to its special tokens and give every pair the same score.
 */
function resolveMaxLength(info: ModelDirInfo, tokenizerMax: number | undefined, requested: number | undefined, specials: number): number {
  const least = specials + 2;
  const room = `a pair needs ${least} tokens: its ${specials} special tokens, and at least one query and one document token`;
  // max_position_embeddings is already within LIMITS.maxLength (checked when the directory is read).
  if (info.maxSequenceLength !== null && info.maxSequenceLength < least) {
    const held = info.maxSequenceLength === info.maxPositionEmbeddings ? '' : ` (${info.maxSequenceLength} after the padding index)`;
    throw new TceError('TCE_MODEL_DIR', `${info.dir}: config.json's max_position_embeddings is ${info.maxPositionEmbeddings}${held}, too short for a pair: ${room}.`);
  }
  const limits = [tokenizerMax, info.maxSequenceLength ?? undefined].filter((v): v is number => v !== undefined);
  if (requested === undefined) {
    const modelMax = limits.length > 0 ? Math.min(...limits, LIMITS.maxLength.max) : 512;
    if (modelMax < least) {
      throw new TceError('TCE_MODEL_DIR', `${info.dir}: tokenizer_config.json's model_max_length is ${modelMax}, too short for a pair: ${room}.`);
    }
    return modelMax;
  }
  if (requested < least) throw invalidOption(`maxLength ${requested} leaves no room for a query and a document: ${room}.`);
  if (info.maxSequenceLength !== null && requested > info.maxSequenceLength) {
    const limit = info.maxSequenceLength === info.maxPositionEmbeddings
      ? `max_position_embeddings (${info.maxPositionEmbeddings} in config.json)`
      : `${info.maxSequenceLength} positions (max_position_embeddings ${info.maxPositionEmbeddings} in config.json, less the rows up to the padding index that RoBERTa-style models skip)`;
    throw invalidOption(`maxLength ${requested} is above the model's ${limit}: the model has no position embeddings past that.`);
  }
  return requested;
}

/**
 * Best first; NaN scores (an fp16 overflow can make one) after every number, so that the order
 * and topK are well defined. Ties, NaNs among them, keep input order (the sort is stable).
 */
function byScoreDescending(x: RankResult, y: RankResult): number {
  const xNaN = Number.isNaN(x.score);
  const yNaN = Number.isNaN(y.score);
  if (xNaN || yNaN) return Number(xNaN) - Number(yNaN);
  return y.score - x.score;
}

/**
 * A loaded cross-encoder. `MultiLabel` says what predict() returns (see `LoadOptions.multiLabel`):
 * `CrossEncoder.load()` gives `CrossEncoder<false>` unless told otherwise; the bare type
 * `CrossEncoder` (`boolean`) stands for any model.
 */
export class CrossEncoder<MultiLabel extends boolean = boolean> {
  /** config.json's num_labels: scores a pair. */
  readonly numLabels: number;
  /** Tokens a pair is truncated to. */
  readonly maxLength: number;
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  readonly precision: Precision;
  /** libtorch threads of this model's forwards (LoadOptions.cpuThreads, or its default on the CPU; 0: libtorch's own). */
  readonly cpuThreads: number;
  /** The model's tokenizer (the same one predict() uses). */
  readonly tokenizer: Tokenizer;
  /** Absolute path of the model directory that was loaded. */
  readonly modelDir: string;
  /** Pairs a forward at most for calls that do not say (LoadOptions.batchSize, or its default). */
  readonly batchSize: number;
  /** Tokens a forward at most for calls that do not say (LoadOptions.maxBatchTokens, or its default). */
  readonly maxBatchTokens: number;
  /** The activation for calls that do not say (LoadOptions.activation, or the model's). */
  private readonly defaultActivation: Activation;
  private model: NativeModel | null;
  /** Kept after dispose(), so that a later dispose({ abort: true }) can still stop running calls. */
  private disposedModel: NativeModel | null = null;
  /** The prompts saved with the model (predict()'s prompt / promptName). */
  private readonly savedPrompts: SavedPrompts;
  /** A causal-LM reranker's chat template (null for other models). */
  private readonly causal: CausalPairs | null;

  private constructor(info: ModelDirInfo, tokenizer: Tokenizer, model: NativeModel, settings: {
    device: string; precision: Precision; cpuThreads: number; maxLength: number; batchSize: number; maxBatchTokens: number; activation: Activation;
  }, chat: { savedPrompts: SavedPrompts; causal: CausalPairs | null }) {
    this.modelDir = info.dir;
    this.numLabels = info.numLabels;
    this.tokenizer = tokenizer;
    this.model = model;
    this.device = settings.device;
    this.precision = settings.precision;
    this.cpuThreads = settings.cpuThreads;
    this.maxLength = settings.maxLength;
    this.batchSize = settings.batchSize;
    this.maxBatchTokens = settings.maxBatchTokens;
    this.defaultActivation = settings.activation;
    this.savedPrompts = chat.savedPrompts;
    this.causal = chat.causal;
  }

  /**
   * Loads a model directory (see README: model.pt + the tokenizer and config files). With no
   * directory, or with the name BUNDLED_MODEL when no directory of that name exists, it loads the
   * ready-made biomedical reranker (its own package, BUNDLED_MODEL_PACKAGE: a TCE_MODEL_DIR error
   * with the npm command when it is not installed).
   */
  static async load<M extends boolean = false>(options?: LoadOptions<M>): Promise<CrossEncoder<M>>;
  static async load<M extends boolean = false>(modelDir: string | undefined, options?: LoadOptions<M>): Promise<CrossEncoder<M>>;
  static async load(modelDirOrOptions?: string | LoadOptions, maybeOptions?: LoadOptions): Promise<CrossEncoder> {
    const optionsFirst = typeof modelDirOrOptions === 'object' && modelDirOrOptions !== null && maybeOptions === undefined;
    const modelDir = optionsFirst || modelDirOrOptions === undefined
      ? undefined
      : checkString('CrossEncoder.load(): modelDir', modelDirOrOptions);
    const o = checkLoadOptions(optionsFirst ? modelDirOrOptions : maybeOptions);
    const info = readModelDir(resolveModelDir(modelDir));
    checkMultiLabel(info, o.multiLabel);
    const tokenizer = await Tokenizer.loadFromModelDir(info.dir);
    checkTokenizerFitsModel(info, nativeTokenizerOf(tokenizer));
    const maxLength = resolveMaxLength(info, tokenizer.modelMaxLength, o.maxLength, nativeTokenizerOf(tokenizer).addedSpecialTokens(true));
    const causalModules = readCausalModules(info.dir);
    if (causalModules) for (const file of [info.modelFiles.torchscript, info.modelFiles.pt2]) if (file) checkPaddingSide(file);
    const chat = { savedPrompts: readSavedPrompts(info.dir), causal: causalModules && new CausalPairs(causalModules, tokenizer) };
    // libtorch is found (python3 asked asynchronously) and loaded on a worker thread.
    await loadRuntimeAsync({ libtorch: o.libtorch });
    const device = resolveDevice(o.device);
    const precision = resolvePrecision(device, o.precision);
    const addon = native();
    const cpuThreads = o.cpuThreads ?? (device === 'cpu' ? defaultCpuThreads() : 0);
    let model: NativeModel;
    try {
      model = new addon.Model(nativeTokenizerOf(tokenizer), {
        path: info.modelPath,
        device,
        precision: addon.codes.precision[precision],
        numLabels: info.numLabels,
        maxLength,
        shareBatches: o.shareBatches,
        maxWaitMs: o.maxWaitMs,
        cpuThreads,
        tf32: tf32Option(o.tf32, precision, o.precision !== undefined && o.precision !== 'auto'),
      });
    } catch (error) {
      throw fromNative(error);
    }
    try {
      await model.load();
    } catch (error) {
      throw loadFailure(info, (error as Error).message);
    }
    return new CrossEncoder(info, tokenizer, model, {
      device,
      precision,
      cpuThreads,
      maxLength,
      batchSize: o.batchSize ?? (device === 'cpu' ? 32 : 1024),
      maxBatchTokens: o.maxBatchTokens ?? (device === 'cpu' ? 1024 : 16384),
      activation: o.activation ?? info.defaultActivation,
    }, chat);
  }

  /**
   * Scores a list of pairs (-> Float32Array(N); one Float32Array row per pair on a model with
   * several labels) or one pair (-> a number; a Float32Array of labels on a model with several).
   * The list form comes first so that `docs.map((d) => [q, d])` is read as a list of pairs.
   */
  predict(pairs: readonly Pair[], options?: PredictOptions): Promise<PairScores<MultiLabel>>;
  predict(pair: Pair, options?: PredictOptions): Promise<PairScore<MultiLabel>>;
  predict(input: Pair | readonly Pair[], options?: PredictOptions): Promise<PairScore<MultiLabel> | PairScores<MultiLabel>>;
  async predict(input: Pair | readonly Pair[], options?: PredictOptions): Promise<number | Float32Array | Float32Array[]> {
    const o = this.checkCallOptions('predict() options', options, PREDICT_OPTIONS);
    if (!Array.isArray(input)) throw invalidInput(`predict() takes a [query, document] pair or an array of them, got ${describe(input)}`);
    const single = typeof input[0] === 'string';
    const pairs = (single ? [checkPair('predict(): the pair', input)] : input) as readonly unknown[];
    const where = (i: number) => (single ? 'predict(): the pair' : `pairs[${i}]`);
    const scores = o.longDocuments === 'truncate'
      ? await this.score(pairs.length, (i) => checkPair(`pairs[${i}]`, pairs[i]), o)
      : (await this.scoreLong(pairs.map((p, i) => checkPair(where(i), p)), where, o)).scores;
    if (this.numLabels === 1) return single ? scores[0] : scores;
    const rows = Array.from({ length: pairs.length }, (_, i) => scores.subarray(i * this.numLabels, (i + 1) * this.numLabels));
    return single ? rows[0] : rows;
  }

  /** Scores [query, doc] for each doc and returns them best first (stable among ties, NaN last). */
  async rank(query: string, documents: readonly string[], options?: RankOptions): Promise<RankResult[]> {
    const o = this.checkCallOptions('rank() options', options, RANK_OPTIONS);
    const topK = integerOption('topK', (options as RankOptions | undefined)?.topK);
    const returnDocuments = booleanOption('returnDocuments', (options as RankOptions | undefined)?.returnDocuments) ?? false;
    const returnPassage = booleanOption('returnPassage', (options as RankOptions | undefined)?.returnPassage) ?? false;
    if (returnPassage && o.longDocuments === 'truncate') {
      throw invalidOption("returnPassage needs longDocuments 'max', 'mean' or 'first' (with 'truncate' no window is chosen).");
    }
    if (this.numLabels !== 1) {
      throw invalidOption('CrossEncoder.rank() only works for models with num_labels=1. Consider using CrossEncoder.predict() with input pairs instead.');
    }
    checkString('rank(): query', query);
    checkArray('rank(): documents', documents);
    if (o.longDocuments === 'truncate') {
      const scores = await this.score(documents.length, (i) => [query, checkString(`documents[${i}]`, documents[i])], o);
      const results: RankResult[] = Array.from(scores, (score, corpusId) =>
        returnDocuments ? { corpusId, score, text: documents[corpusId] } : { corpusId, score });
      results.sort(byScoreDescending);
      return topK === undefined ? results : results.slice(0, topK);
    }
    const items = documents.map((d, i): [string, string] => [query, checkString(`documents[${i}]`, d)]);
    const { scores, passages } = await this.scoreLong(items, (i) => `documents[${i}]`, o);
    const results: RankResult[] = Array.from(scores, (score, corpusId) => {
      const result: RankResult = returnDocuments ? { corpusId, score, text: documents[corpusId] } : { corpusId, score };
      if (returnPassage) {
        const { start, end } = passages[corpusId]!;
        result.passage = { start, end, text: items[corpusId]![1].slice(start, end) };
      }
      return result;
    });
    results.sort(byScoreDescending);
    return topK === undefined ? results : results.slice(0, topK);
  }

  /** Every per-call option, checked before any work starts. */
  private checkCallOptions(where: string, options: unknown, known: readonly string[]) {
    const o = optionsObject(where, options, known);
    return {
      batchSize: integerOption('batchSize', o.batchSize) ?? this.batchSize,
      maxBatchTokens: integerOption('maxBatchTokens', o.maxBatchTokens) ?? this.maxBatchTokens,
      activation: enumOption('activation', o.activation, ACTIVATIONS) ?? this.defaultActivation,
      applySoftmax: booleanOption('applySoftmax', o.applySoftmax) ?? false,
      onProgress: functionOption<ProgressCallback>('onProgress', o.onProgress),
      signal: signalOption('signal', o.signal),
      ...this.longDocumentOptions(o),
      prompt: resolvePrompt(this.savedPrompts, stringOption('prompt', o.prompt), stringOption('promptName', o.promptName)),
    };
  }

  /** longDocuments, windowTokens and stride, checked against each other and the model; a plan handed in (WINDOW_PLAN). */
  private longDocumentOptions(o: Record<PropertyKey, unknown>): { longDocuments: LongDocuments; windowTokens: number | undefined; stride: number | undefined; plan: WindowPlan | undefined } {
    const longDocuments = enumOption('longDocuments', o.longDocuments, LONG_DOCUMENTS) ?? 'truncate';
    if (longDocuments !== 'truncate' && this.causal) {
      throw invalidOption(
        `longDocuments '${longDocuments}' splits a pair by its tokenizer template; a causal-LM reranker renders pairs with its chat ` +
          "template instead, and reads up to its own maximum (maxLength). Use 'truncate' (the default).",
      );
    }
    const windowTokens = integerOption('windowTokens', o.windowTokens);
    const stride = integerOption('stride', o.stride);
    for (const [name, value] of [['windowTokens', windowTokens], ['stride', stride]] as const) {
      if (value !== undefined && longDocuments === 'truncate') {
        throw invalidOption(`${name} applies to longDocuments 'max', 'mean' or 'first'; with 'truncate' (the default) there are no windows.`);
      }
    }
    if (longDocuments === 'max' && this.numLabels !== 1) {
      throw invalidOption(
        `longDocuments 'max' needs a one-label model (this one has ${this.numLabels} labels: no single best window). ` +
          "Use 'mean' (each label averaged over the windows) or 'first'.",
      );
    }
    return { longDocuments, windowTokens, stride, plan: o[WINDOW_PLAN] as WindowPlan | undefined };
  }

  /**
   * Scores (query, document) items window by window: long-documents plans the windows, has them
   * all scored in one score() call, and aggregates each item's windows into its row.
   */
  private scoreLong(
    items: ReadonlyArray<readonly [string, string]>,
    where: (i: number) => string,
    o: ReturnType<CrossEncoder['checkCallOptions']>,
  ): Promise<{ scores: Float32Array; passages: Span[] }> {
    this.requireModel();
    return scoreLongDocuments(
      this.tokenizer,
      items,
      {
        maxLength: this.maxLength, windowTokens: o.windowTokens, stride: o.stride, mode: o.longDocuments as Exclude<LongDocuments, 'truncate'>,
        signal: o.signal, labels: this.numLabels, onProgress: o.onProgress,
      },
      where,
      (count, read, onProgress) => this.score(count, read, { ...o, onProgress }),
      o.plan,
    );
  }

  private async score(
    count: number,
    read: (i: number) => readonly [string, string],
    o: ReturnType<CrossEncoder['checkCallOptions']>,
  ): Promise<Float32Array> {
    const model = this.requireModel();
    if (o.signal?.aborted) throw abortError(o.signal);
    const { causal } = this;
    const prompt = o.prompt;
    // A causal-LM reranker gets each pair rendered by its chat template; other models get the
    // prompt before the query, as sentence-transformers puts it.
    const rendered = causal && await causal.renderAll(count, read, prompt, o.signal);
    const texts = rendered
      ? await transferTexts(count, (i) => [rendered[i]!, null], o.signal)
      : await transferTexts(count, prompt ? (i) => {
        const [query, document] = read(i);
        return [prompt + query, document];
      } : read, o.signal);
    if (count === 0) return new Float32Array(0);
    const activation = native().codes.activation[o.activation];
    return runNativeCall(
      model,
      texts,
      {
        batchSize: o.batchSize, maxBatchTokens: o.maxBatchTokens, activation, applySoftmax: o.applySoftmax,
        ...(causal && { renderedSuffix: causal.suffix(prompt) }),
      },
      o.onProgress,
      o.signal,
    );
  }

  private requireModel(): NativeModel {
    if (!this.model) throw new TceError('TCE_DISPOSED', 'This CrossEncoder is disposed.');
    return this.model;
  }

  /** Counters of the engine since load: forwards, pairs, real and padded tokens, time. */
  stats(): EngineStats {
    return this.requireModel().stats();
  }

  /**
   * Frees the model (and its GPU memory). Calls that have not started reject with TCE_DISPOSED;
   * running calls finish, or with `{ abort: true }` stop after the forward in progress and reject
   * with TCE_DISPOSED.
   */
  async dispose(options?: DisposeOptions): Promise<void> {
    const o = optionsObject('dispose() options', options, ['abort']);
    const abort = booleanOption('abort', o.abort) ?? false;
    const model = this.model ?? this.disposedModel;
    this.model = null;
    this.disposedModel = model;
    if (model) await model.dispose(abort);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
