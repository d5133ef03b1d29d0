/**
 * The public tokenizer: Hugging Face fast-tokenizer parity for the pipelines tokenizer.json
 * describes (BERT WordPiece, sentencepiece Unigram, byte-level BPE, ...; docs/TOKENIZER.md),
 * implemented in C++ (native/tokenizer). Batches are tokenized on native threads, off the event loop.
 */
import { bundledModelByName } from './bundled-model';
import { fromNative, TceError } from './errors';
import { native, type NativeEncoding, type NativeEncodings, type NativeTokenizer, type NativeTokenizerSpec } from './native';
import { transferTexts, yieldToEventLoop } from './text-transfer';
import { readTokenizerDir, readTokenizerFile, type TokenizerFiles } from './tokenizer-files';
import { readTokenizerOffThread } from './tokenizer-read';
import { booleanOption, checkArray, checkString, describe, integerOption, invalidInput, invalidOption, optionsObject } from './validate';

export interface EncodeOptions {
  /** Truncate to at most this many tokens (special tokens included), longest_first for pairs. */
  maxLength?: number;
  /** Add the post-processor's special tokens, e.g. [CLS]/[SEP] or <s>/</s> (default true). */
  addSpecialTokens?: boolean;
  /**
   * Also return where each token came from: offsets, wordIds, sequenceIds and specialTokensMask,
   * as Hugging Face tokenizers' Encoding has them (default false: they cost time and memory).
   */
  returnOffsets?: boolean;
}

const ENCODE_OPTIONS = Object.keys({ maxLength: 1, addSpecialTokens: 1, returnOffsets: 1 } satisfies Record<keyof EncodeOptions, 1>);

export interface Encoding {
  ids: Int32Array;
  typeIds: Int32Array;
  /** The token strings (looked up on first access). */
  readonly tokens: string[];
  /**
   * With returnOffsets: token i came from [offsets[2i], offsets[2i + 1]) of its own sequence's
   * string (the text, or the pair) in UTF-16 code units, so `text.slice(start, end)` is its text;
   * 0, 0 for the special tokens the post-processor adds. Undefined without returnOffsets.
   */
  readonly offsets?: Uint32Array;
  /** With returnOffsets: the index of the pre-tokenized word of its sequence (tokenizers' word_ids); -1 where it has None. */
  readonly wordIds?: Int32Array;
  /** With returnOffsets: 0 (the text), 1 (the pair), -1 for the post-processor's special tokens. */
  readonly sequenceIds?: Int8Array;
  /** With returnOffsets: 1 for the special tokens the post-processor adds (tokenizers' special_tokens_mask). */
  readonly specialTokensMask?: Uint8Array;
}

/** The JSON form of an Encoding (toJSON); the offset fields only with returnOffsets. */
export interface EncodingJson {
  ids: number[];
  typeIds: number[];
  tokens: string[];
  offsets?: Array<[number, number]>;
  wordIds?: number[];
  sequenceIds?: number[];
  specialTokensMask?: number[];
}

/** One input of encodeBatch: a text, or a (text, pair) tuple. */
export type EncodeInput = string | readonly [string, string];

const NATIVE = Symbol('torch-cross-encoder.nativeTokenizer');
/** Encodings built between two turns of the event loop. */
const RESULT_CHUNK = 4096;

class EncodingImpl implements Encoding {
  ids: Int32Array;
  typeIds: Int32Array;
  // Declared, not initialized: without returnOffsets they are not own properties at all.
  declare readonly offsets?: Uint32Array;
  declare readonly wordIds?: Int32Array;
  declare readonly sequenceIds?: Int8Array;
  declare readonly specialTokensMask?: Uint8Array;
  #tokens: string[] | undefined;
  readonly #tokenizer: NativeTokenizer;
  constructor(e: NativeEncoding, tokenizer: NativeTokenizer) {
    this.ids = e.ids;
    this.typeIds = e.typeIds;
    // Own properties only when asked for, so that `'offsets' in encoding` and JSON tell.
    if (e.offsets) {
      this.offsets = e.offsets;
      this.wordIds = e.wordIds;
      this.sequenceIds = e.sequenceIds;
      this.specialTokensMask = e.specialTokensMask;
    }
    this.#tokenizer = tokenizer;
  }
  get tokens(): string[] {
    this.#tokens ??= this.#tokenizer.tokens(this.ids);
    return this.#tokens;
  }
  toJSON(): EncodingJson {
    const json: EncodingJson = { ids: Array.from(this.ids), typeIds: Array.from(this.typeIds), tokens: this.tokens };
    if (this.offsets && this.wordIds && this.sequenceIds && this.specialTokensMask) {
      const offsets = this.offsets;
      json.offsets = Array.from({ length: offsets.length / 2 }, (_, i): [number, number] => [offsets[2 * i], offsets[2 * i + 1]]);
      json.wordIds = Array.from(this.wordIds);
      json.sequenceIds = Array.from(this.sequenceIds);
      json.specialTokensMask = Array.from(this.specialTokensMask);
    }
    return json;
  }
}

export class Tokenizer {
  readonly [NATIVE]: NativeTokenizer;
  readonly #modelMaxLength: number | undefined;

  private constructor(files: TokenizerFiles, built?: NativeTokenizer) {
    const spec: NativeTokenizerSpec = files.spec;
    try {
      this[NATIVE] = built ?? new (native().Tokenizer)(spec);
    } catch (error) {
      throw tokenizerFileError(files, error);
    }
    this.#modelMaxLength = files.modelMaxLength;
  }

  /**
   * As fromModelDir, without holding the event loop (CrossEncoder.load() uses it): the files are
   * read and parsed in a worker thread, and the native tokenizer is built on a pool thread, so a
   * vocabulary of millions of tokens costs the JS thread next to nothing.
   */
  static async loadFromModelDir(dir: string): Promise<Tokenizer> {
    checkString('Tokenizer.loadFromModelDir(): dir', dir);
    const { files, vocab } = await readTokenizerOffThread(bundledModelByName(dir));
    try {
      return new Tokenizer(files, await native().Tokenizer.build(files.spec, vocab));
    } catch (error) {
      throw tokenizerFileError(files, error);
    }
  }

  /** From one file: `tokenizer.json`, or `vocab.txt` (BERT uncased defaults). */
  static fromFile(file: string): Tokenizer {
    checkString('Tokenizer.fromFile(): file', file);
    return new Tokenizer(readTokenizerFile(file));
  }

  /**
   * From a model directory: `tokenizer.json` if present, else `vocab.txt`; then
   * `tokenizer_config.json` / `special_tokens_map.json`, whose settings win. The name
   * 'biomed-minilm-ce' is the ready-made model's directory, as in CrossEncoder.load.
   */
  static fromModelDir(dir: string): Tokenizer {
    checkString('Tokenizer.fromModelDir(): dir', dir);
    return new Tokenizer(readTokenizerDir(bundledModelByName(dir)));
  }

  /** Number of ids (the vocabulary plus added tokens beyond it). */
  get vocabSize(): number {
    return this[NATIVE].vocabSize;
  }

  get padId(): number {
    return this[NATIVE].padId;
  }

  /** `model_max_length` from tokenizer_config.json, if the directory had one. */
  get modelMaxLength(): number | undefined {
    return this.#modelMaxLength;
  }

  encode(text: string, pair?: string | null, options?: EncodeOptions): Encoding {
    checkString('encode(): text', text);
    if (pair !== undefined && pair !== null) checkString('encode(): pair', pair);
    const hasPair = typeof pair === 'string';
    const tokenizer = this[NATIVE];
    const [maxLength, special, withOffsets] = readOptions('encode() options', options, hasPair, tokenizer);
    try {
      return new EncodingImpl(tokenizer.encode(text, hasPair ? pair : null, maxLength, special, withOffsets), tokenizer);
    } catch (error) {
      throw fromNative(error);
    }
  }

  /** Encodes many texts or (text, pair) tuples on native threads; results keep input order. */
  async encodeBatch(inputs: readonly EncodeInput[], options?: EncodeOptions): Promise<Encoding[]> {
    checkArray('encodeBatch(): inputs', inputs);
    // Options first, then every input, before any tokenizing starts.
    const [maxLength, special, withOffsets] = readOptions('encodeBatch() options', options, false, this[NATIVE]);
    let pairs = false;
    const buffer = await transferTexts(inputs.length, (i) => {
      const input: unknown = inputs[i];
      if (typeof input === 'string') return [input, null];
      if (Array.isArray(input) && input.length === 2) {
        for (const k of [0, 1]) checkString(`encodeBatch(): inputs[${i}][${k}]`, input[k]);
        pairs = true;
        return [input[0] as string, input[1] as string];
      }
      throw invalidInput(`encodeBatch(): inputs[${i}] must be a string or a [string, string] tuple, got ${describe(input)}`);
    });
    // A pair needs room for more special tokens than a single text (BERT 3 and 2, XLM-R 4 and 2).
    if (pairs) readOptions('encodeBatch() options', options, true, this[NATIVE]);
    const tokenizer = this[NATIVE];
    let flat: NativeEncodings;
    try {
      flat = await tokenizer.encodeBatch(buffer, maxLength, special, withOffsets);
    } catch (error) {
      throw fromNative(error);
    }
    // Cut into encodings (copies, so that one kept encoding does not keep the whole batch alive)
    // a chunk at a time, with event-loop turns between chunks.
    const { ids, typeIds, offsets, tokenOffsets, wordIds, sequenceIds, specialTokensMask } = flat;
    const out = new Array<Encoding>(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      if (i > 0 && i % RESULT_CHUNK === 0) await yieldToEventLoop();
      const begin = offsets[i];
      const end = offsets[i + 1];
      const e: NativeEncoding = { ids: ids.slice(begin, end), typeIds: typeIds.slice(begin, end) };
      if (tokenOffsets && wordIds && sequenceIds && specialTokensMask) {
        e.offsets = tokenOffsets.slice(2 * begin, 2 * end);
        e.wordIds = wordIds.slice(begin, end);
        e.sequenceIds = sequenceIds.slice(begin, end);
        e.specialTokensMask = specialTokensMask.slice(begin, end);
      }
      out[i] = new EncodingImpl(e, tokenizer);
    }
    return out;
  }
}

function tokenizerFileError(files: TokenizerFiles, error: unknown): TceError {
  if (error instanceof TceError) return error;
  return new TceError('TCE_TOKENIZER_FILE', `${files.sources.join(', ')}: ${(error as Error).message}`, { cause: error });
}

/** [maxLength (0: none), addSpecialTokens, returnOffsets] from encode options. */
function readOptions(where: string, options: unknown, pair: boolean, tokenizer: NativeTokenizer): [number, boolean, boolean] {
  const o = optionsObject(where, options, ENCODE_OPTIONS);
  const special = booleanOption('addSpecialTokens', o.addSpecialTokens) ?? true;
  const withOffsets = booleanOption('returnOffsets', o.returnOffsets) ?? false;
  const maxLength = integerOption('encodeMaxLength', o.maxLength, 'maxLength');
  if (maxLength === undefined) return [0, special, withOffsets];
  // Upstream's arithmetic underflows below this (it then stops truncating at all).
  const needed = Math.max(1, special ? tokenizer.addedSpecialTokens(pair) : 0);
  if (maxLength < needed) {
    throw invalidOption(`maxLength must be at least ${needed} to hold the special tokens${pair ? ' of a pair' : ''}, got ${maxLength}`);
  }
  return [maxLength, special, withOffsets];
}

/** The native tokenizer behind a Tokenizer, for other modules of this package (not public API). */
export function nativeTokenizerOf(tokenizer: Tokenizer): NativeTokenizer {
  if (!(tokenizer instanceof Tokenizer)) throw new TceError('TCE_INTERNAL', `expected a Tokenizer, got ${describe(tokenizer)}`);
  return tokenizer[NATIVE];
}
