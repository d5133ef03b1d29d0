/**
 * The public BERT WordPiece tokenizer: Hugging Face fast-tokenizer parity, implemented in C++
 * (native/tokenizer). Batches are tokenized on native threads, off the event loop.
 */
import { TceError } from './errors';
import { native, type NativeEncoding, type NativeTokenizer, type NativeTokenizerSpec } from './native';
import { readTokenizerDir, readTokenizerFile, type TokenizerFiles } from './tokenizer-files';

export interface EncodeOptions {
  /** Truncate to at most this many tokens (special tokens included), longest_first for pairs. */
  maxLength?: number;
  /** Add [CLS]/[SEP] (default true). */
  addSpecialTokens?: boolean;
}

export interface Encoding {
  ids: Int32Array;
  typeIds: Int32Array;
  /** The token strings (computed on first access). */
  readonly tokens: string[];
}

/** One input of encodeBatch: a text, or a (text, pair) tuple. */
export type EncodeInput = string | readonly [string, string];

const NATIVE = Symbol('torch-cross-encoder.nativeTokenizer');

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

class EncodingImpl implements Encoding {
  ids: Int32Array;
  typeIds: Int32Array;
  #tokens: string[] | undefined;
  readonly #idToToken: readonly string[];
  constructor(e: NativeEncoding, idToToken: readonly string[]) {
    this.ids = e.ids;
    this.typeIds = e.typeIds;
    this.#idToToken = idToToken;
  }
  get tokens(): string[] {
    if (this.#tokens === undefined) this.#tokens = Array.from(this.ids, (id) => this.#idToToken[id] ?? '');
    return this.#tokens;
  }
  toJSON(): { ids: number[]; typeIds: number[]; tokens: string[] } {
    return { ids: Array.from(this.ids), typeIds: Array.from(this.typeIds), tokens: this.tokens };
  }
}

export class Tokenizer {
  readonly [NATIVE]: NativeTokenizer;
  readonly #idToToken: string[];
  readonly #modelMaxLength: number | undefined;

  private constructor(files: TokenizerFiles) {
    const spec: NativeTokenizerSpec = files.spec;
    try {
      this[NATIVE] = new (native().Tokenizer)(spec);
    } catch (error) {
      if (error instanceof TceError) throw error;
      throw new TceError('TCE_TOKENIZER_FILE', `${files.sources.join(', ')}: ${(error as Error).message}`, { cause: error });
    }
    const idToToken = spec.vocab.slice();
    for (const t of spec.addedTokens) {
      if (t.id >= idToToken.length) idToToken.length = t.id + 1;
      if (!idToToken[t.id]) idToToken[t.id] = t.content;
    }
    this.#idToToken = idToToken;
    this.#modelMaxLength = files.modelMaxLength;
  }

  /** From one file: `tokenizer.json`, or `vocab.txt` (BERT uncased defaults). */
  static fromFile(file: string): Tokenizer {
    if (typeof file !== 'string') throw new TypeError(`file must be a string, got ${describe(file)}`);
    return new Tokenizer(readTokenizerFile(file));
  }

  /**
   * From a model directory: `tokenizer.json` if present, else `vocab.txt`; then
   * `tokenizer_config.json` / `special_tokens_map.json`, whose settings win.
   */
  static fromModelDir(dir: string): Tokenizer {
    if (typeof dir !== 'string') throw new TypeError(`dir must be a string, got ${describe(dir)}`);
    return new Tokenizer(readTokenizerDir(dir));
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

  encode(text: string, pair?: string | null, options: EncodeOptions = {}): Encoding {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${describe(text)}`);
    if (pair !== undefined && pair !== null && typeof pair !== 'string') {
      throw new TypeError(`pair must be a string, got ${describe(pair)}`);
    }
    const hasPair = typeof pair === 'string';
    const [maxLength, special] = readOptions(options, hasPair);
    return new EncodingImpl(this[NATIVE].encode(text, hasPair ? pair : null, maxLength, special, false), this.#idToToken);
  }

  /** Encodes many texts or (text, pair) tuples on native threads; results keep input order. */
  async encodeBatch(inputs: readonly EncodeInput[], options: EncodeOptions = {}): Promise<Encoding[]> {
    if (!Array.isArray(inputs)) throw new TypeError(`inputs must be an array, got ${describe(inputs)}`);
    const a = new Array<string>(inputs.length);
    let b: Array<string | null> | null = null;
    for (let i = 0; i < inputs.length; i++) {
      const input: unknown = inputs[i];
      if (typeof input === 'string') {
        a[i] = input;
        if (b) b[i] = null;
      } else if (Array.isArray(input)) {
        if (input.length !== 2) throw new TypeError(`inputs[${i}] must be a [text, pair] tuple of 2 strings, got ${input.length} items`);
        for (const k of [0, 1]) {
          if (typeof input[k] !== 'string') throw new TypeError(`inputs[${i}][${k}] must be a string, got ${describe(input[k])}`);
        }
        a[i] = input[0];
        if (!b) b = new Array<string | null>(inputs.length).fill(null);
        b[i] = input[1];
      } else {
        throw new TypeError(`inputs[${i}] must be a string or a [string, string] tuple, got ${describe(input)}`);
      }
    }
    const [maxLength, special] = readOptions(options, b !== null);
    const encodings = await this[NATIVE].encodeBatch(a, b, maxLength, special, false);
    return encodings.map((e) => new EncodingImpl(e, this.#idToToken));
  }
}

function readOptions(options: EncodeOptions, pair: boolean): [number, boolean] {
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${describe(options)}`);
  const special = options.addSpecialTokens ?? true;
  if (typeof special !== 'boolean') throw new TypeError(`addSpecialTokens must be a boolean, got ${describe(special)}`);
  const maxLength = options.maxLength;
  if (maxLength === undefined) return [0, special];
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`maxLength must be a positive integer, got ${String(maxLength)}`);
  }
  // Upstream's arithmetic underflows below this (it then stops truncating at all).
  const needed = special ? (pair ? 3 : 2) : 1;
  if (maxLength < needed) {
    throw new RangeError(`maxLength must be at least ${needed} to hold the special tokens, got ${maxLength}`);
  }
  return [maxLength, special];
}

/** The native tokenizer behind a Tokenizer, for other modules of this package (not public API). */
export function nativeTokenizerOf(tokenizer: Tokenizer): NativeTokenizer {
  if (!(tokenizer instanceof Tokenizer)) throw new TypeError(`expected a Tokenizer, got ${describe(tokenizer)}`);
  return tokenizer[NATIVE];
}
