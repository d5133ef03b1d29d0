// The package's declarations use Node's types (NodeJS.ProcessEnv, node:http, Symbol.asyncDispose).
// @types/node is a dependency for them, and this directive, kept in native.d.ts (which both entry
// points' declarations reach), brings it into a user's program whatever its "types" setting.
/// <reference types="node" preserve="true" />
/**
 * Loads the N-API addon found by node-gyp-build (a prebuild from prebuilds/ or the local build);
 * when there is none, or it does not load, the error says what was tried (lib/addon-not-found.ts).
 * The addon does not link libtorch, so this works on machines without libtorch; it is loaded
 * lazily so that `require('torch-cross-encoder')` itself never fails.
 */
import type { PipelineSpec } from './tokenizer-files';
import path from 'node:path';
import { addonNotFound } from './addon-not-found';

export interface NativeCudaDevice {
  index: number;
  name: string;
  totalMemory?: number;
  freeMemory?: number;
}

export interface NativeTokenizerSpec {
  vocab: string[];
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean;
  lowercase: boolean;
  unkToken: string;
  clsToken: string;
  sepToken: string;
  padToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  addedTokens: Array<{
    content: string;
    id: number;
    special: boolean;
    normalized: boolean;
    singleWord: boolean;
    lstrip: boolean;
    rstrip: boolean;
  }>;
  /** A tokenizer.json pipeline (Unigram, BPE, ...): the stages it names; absent for the BERT path. */
  pipeline?: PipelineSpec;
}

/** The offset fields of an encoding (withOffsets), one entry per token (offsets: two). */
export interface NativeOffsetFields {
  /** [start, end) per token in UTF-16 code units of its own sequence's string; 0, 0 for specials. */
  offsets: Uint32Array;
  /** tokenizers' word_ids; -1 for None. */
  wordIds: Int32Array;
  /** tokenizers' sequence_ids; -1 for None. */
  sequenceIds: Int8Array;
  specialTokensMask: Uint8Array;
}

export interface NativeEncoding extends Partial<NativeOffsetFields> {
  ids: Int32Array;
  typeIds: Int32Array;
}

export interface NativeEncodings {
  ids: Int32Array;
  typeIds: Int32Array;
  offsets: Uint32Array;
  /** withOffsets: every encoding's offsets back to back, two entries per token (token i at 2i). */
  tokenOffsets?: Uint32Array;
  wordIds?: Int32Array;
  sequenceIds?: Int8Array;
  specialTokensMask?: Uint8Array;
}

/**
 * The texts of one call, copied into native memory in chunks (lib/text-transfer.ts), so that a
 * large call never holds the event loop for long; predict()/encodeBatch() then take them.
 */
export interface NativeTextBuffer {
  /** Appends texts, and their pairs (null: these texts have none). */
  add(texts: string[], pairs: Array<string | null> | null): void;
  readonly size: number;
}

/** The native tokenizer object (native/addon/tokenizer_binding.cc). */
export interface NativeTokenizer {
  /** maxLength 0: no truncation. withOffsets (default false) adds the NativeOffsetFields. */
  encode(a: string, b: string | null, maxLength: number, addSpecialTokens: boolean, withOffsets?: boolean): NativeEncoding;
  /** Every encoding in flat arrays; text i's tokens are [offsets[i], offsets[i + 1]). */
  encodeBatch(texts: NativeTextBuffer, maxLength: number, addSpecialTokens: boolean, withOffsets?: boolean): Promise<NativeEncodings>;
  /** The token text of each id. */
  tokens(ids: Int32Array): string[];
  /** The special tokens the post-processor adds to a text (pair false) or a pair. */
  addedSpecialTokens(pair: boolean): number;
  readonly vocabSize: number;
  readonly padId: number;
  /** The largest id encode() or padding can give (vocabulary, added tokens, template specials, pad). */
  readonly maxId: number;
  /** The largest type id the post-processor's templates give. */
  readonly maxTypeId: number;
}

export interface NativeModelLoadOptions {
  path: string;
  device: string;
  precision: number;
  numLabels: number;
  maxLength: number;
  shareBatches: boolean;
  maxWaitMs: number;
  /** libtorch intra-op threads for the model's forwards; 0 leaves libtorch's default. */
  cpuThreads: number;
  /**
   * TF32 matmuls for a CUDA fp32 model (no effect elsewhere). Process-wide in libtorch: the
   * constructor throws TCE_INVALID_OPTION when another CUDA fp32 model holds the other setting.
   */
  tf32: boolean;
}

export interface NativePredictOptions {
  batchSize: number;
  maxBatchTokens: number;
  activation: number;
  applySoftmax: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * Set when the texts are chat-template renders (lib/chat/), not pairs: each is tokenized alone
   * without special tokens, and a row cut to maxLength ends with these ids (restore_suffix).
   */
  renderedSuffix?: Int32Array;
}

export interface NativePredictCall {
  promise: Promise<Float32Array>;
  cancel(): void;
}

/** Counters of a model's engine since load (CrossEncoder.stats()). */
export interface NativeModelStats {
  /**
   * Forwards run, counted when their scores are read back (a failed forward, or one whose calls
   * were all aborted meanwhile, does not count); an out-of-memory split counts each part.
   */
  forwards: number;
  /** Pairs scored. */
  pairs: number;
  /** Real tokens in those pairs. */
  tokens: number;
  /** Tokens computed, padding included; 1 - tokens / paddedTokens is the padding waste. */
  paddedTokens: number;
  /** Forwards that held pairs of more than one call (shared batches). */
  sharedForwards: number;
  /**
   * Forwards launched while the batch before them was still in flight: the engine keeps two
   * batches in flight, so this is every forward but the first of each busy stretch.
   */
  overlappedForwards: number;
  /**
   * Milliseconds the executor thread spent in the core for these forwards: launching each
   * (staging, upload, kernel launches) and reading its scores back, waiting for the device
   * included. One thread makes these calls, so forwardMs / wall time is the executor's busy share.
   */
  forwardMs: number;
  /**
   * The part of forwardMs spent waiting for scores: on CUDA a share of wall time near 1 means the
   * GPU sets the pace (it never waits for the host); on the CPU, where a forward runs when its
   * scores are read, the forwards themselves.
   */
  waitMs: number;
}

/** The native model object (native/addon/model_binding.cc). */
export interface NativeModel {
  load(): Promise<void>;
  stats(): NativeModelStats;
  /** Takes the call's pairs out of `texts` (every text has a pair). */
  predict(texts: NativeTextBuffer, options: NativePredictOptions): NativePredictCall;
  /** abort: calls already running stop after the forward in progress (TCE_DISPOSED). */
  dispose(abort: boolean): Promise<void>;
}

export interface NativeAddon {
  /** Loads libtorch's libraries and the core on the calling thread (runtimeInfo()). */
  loadCore(libraries: string[], corePath: string): { torchVersion: string };
  /** The same on a worker thread (CrossEncoder.load()): dlopen() of libtorch takes most of a second. */
  loadCoreAsync(libraries: string[], corePath: string): Promise<{ torchVersion: string }>;
  /** TCE_CORE_ABI of native/core/tce_core.h: the C API version this addon speaks. */
  coreAbi: number;
  cudaDevices(): NativeCudaDevice[];
  numThreads(set?: number): number;
  /** Parks model threads before libtorch's static destructors run (process 'exit'). */
  quiesce(): void;
  Tokenizer: {
    new (spec: NativeTokenizerSpec): NativeTokenizer;
    /**
     * As the constructor, built off the JS thread, with the vocabulary from `vocab` (spec.vocab is
     * ignored): a TextBuffer, or every token's UTF-8 bytes back to back with their byte lengths.
     */
    build(spec: NativeTokenizerSpec, vocab: NativeTextBuffer | { bytes: Uint8Array; lengths: Uint32Array }): Promise<NativeTokenizer>;
  };
  /** Construction is cheap; load() reads the model file (model.pt or model.pt2) on the model's own thread. */
  Model: new (tokenizer: NativeTokenizer, options: NativeModelLoadOptions) => NativeModel;
  TextBuffer: new () => NativeTextBuffer;
  /** The precision and activation codes of the core's C API (native/core/tce_core.h). */
  codes: {
    precision: Record<'fp32' | 'fp16' | 'bf16', number>;
    activation: Record<'identity' | 'sigmoid' | 'tanh' | 'softmax', number>;
  };
}

/** The package root (where package.json, binding.gyp and prebuilds/ live). */
export const packageRoot = path.resolve(__dirname, '..');

let addon: NativeAddon | undefined;

export function native(): NativeAddon {
  if (addon) return addon;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const load = require('node-gyp-build') as ((dir: string) => NativeAddon) & { resolve(dir: string): string };
  let resolved: string | null = null;
  try {
    resolved = load.resolve(packageRoot);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(resolved) as NativeAddon;
  } catch (error) {
    throw addonNotFound({ packageRoot, resolved, error: error as Error });
  }
  return addon;
}
