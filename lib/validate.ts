/**
 * Every check of a value that comes from the caller or from a model's files, and the one table of
 * numeric bounds (LIMITS). Each check throws a TceError whose message names the option or argument,
 * what it must be, and what it got; nothing else in the package decides what a valid value is.
 */
import { TceError, type TceErrorCode } from './errors';

interface Range {
  min: number;
  max: number;
}

/**
 * Bounds of every numeric option and config value. The upper bounds keep each value inside what
 * the native side can hold (int / size_t) and what one forward can allocate; README lists them.
 */
export const LIMITS = {
  /** Pairs a forward. */
  batchSize: { min: 1, max: 1 << 20 },
  /** Tokens a forward, padding included: 2^26 int64 tokens is 512 MiB per input tensor. */
  maxBatchTokens: { min: 1, max: 1 << 26 },
  /** Tokens a pair; config.json's max_position_embeddings has the same bounds (3 is [CLS] + 2 x [SEP]). */
  maxLength: { min: 3, max: 1 << 20 },
  /** Tokens a text for Tokenizer.encode(), which may leave out the special tokens. */
  encodeMaxLength: { min: 1, max: 1 << 30 },
  /** libtorch threads; more than cores only adds contention, 1024 covers the largest machines. */
  cpuThreads: { min: 1, max: 1024 },
  maxWaitMs: { min: 0, max: 60_000 },
  topK: { min: 0, max: Number.MAX_SAFE_INTEGER },
  /** Tokens consecutive long-document windows share; also below the window, checked per call. */
  stride: { min: 0, max: 1 << 20 },
  /** Document tokens a long-document window holds at most; also within maxLength, checked per call. */
  windowTokens: { min: 1, max: 1 << 20 },
  /** config.json num_labels: scores are rows x labels floats a forward. */
  numLabels: { min: 1, max: 10_000 },
} as const satisfies Record<string, Range>;

/** How a value reads in a message: short values as themselves (NaN, Infinity, "text"), others by kind. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'string':
      return value.length <= 40 ? `string ${JSON.stringify(value)}` : `a string of ${value.length} characters`;
    case 'function':
      return 'a function';
    case 'symbol':
      return String(value);
    default:
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

export function invalidOption(message: string): TceError {
  return new TceError('TCE_INVALID_OPTION', message);
}

export function invalidInput(message: string): TceError {
  return new TceError('TCE_INVALID_INPUT', message);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A [string, string] pair, or an error naming `where` (e.g. "pairs[3]") and what it held. */
export function checkPair(where: string, value: unknown): readonly [string, string] {
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
    return value as unknown as [string, string];
  }
  const got = Array.isArray(value) && value.length <= 4 ? `[${Array.from(value, typeName).join(', ')}]` : describe(value);
  throw invalidInput(`${where} must be [string, string], got ${got}`);
}

export function checkString(where: string, value: unknown, code: TceErrorCode = 'TCE_INVALID_INPUT'): string {
  if (typeof value !== 'string') throw new TceError(code, `${where} must be a string, got ${describe(value)}`);
  return value;
}

export function checkArray(where: string, value: unknown): readonly unknown[] {
  if (!Array.isArray(value)) throw invalidInput(`${where} must be an array, got ${describe(value)}`);
  return value;
}

/** An integer option within LIMITS[name]; undefined stays undefined (the caller's default). */
export function integerOption(name: keyof typeof LIMITS, value: unknown, label: string = name): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = LIMITS[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`${label} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

/** A finite number option within LIMITS[name]. */
export function numberOption(name: keyof typeof LIMITS, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = LIMITS[name];
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw invalidOption(`${name} must be a number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function booleanOption(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidOption(`${name} must be true or false, got ${describe(value)}`);
  return value;
}

/**
 * The tf32 load option against the precision the model will run in. TF32 only changes float32
 * matmuls on CUDA; under 'fp16'/'bf16' autocast they already run in half precision, so asking
 * for both is a mistake. On the CPU it has no effect (also after device 'auto' chose the CPU).
 */
export function tf32Option(tf32: boolean, precision: string, precisionGiven: boolean): boolean {
  if (tf32 && precision !== 'fp32') {
    const why = precisionGiven ? `precision '${precision}'` : `precision '${precision}' (the default on CUDA)`;
    throw invalidOption(
      `tf32: true applies to precision 'fp32' only; this model would run in ${why}, whose autocast already runs ` +
        "matmuls in half precision. Leave tf32 out, or load with precision: 'fp32'.",
    );
  }
  return tf32;
}

export function stringOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidOption(`${name} must be a string, got ${describe(value)}`);
  return value;
}

/** One of `allowed`, compared by value: never by property lookup, so 'toString' is not an activation. */
export function enumOption<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidOption(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describe(value)}`);
  }
  return value as T;
}

export function functionOption<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidOption(`${name} must be a function, got ${describe(value)}`);
  return value as F;
}

/** An AbortSignal (also one from another realm: checked by shape, not by class). */
export function signalOption(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as Partial<AbortSignal> | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' ||
      typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    throw invalidOption(`${name} must be an AbortSignal, got ${describe(value)}`);
  }
  return value as AbortSignal;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known name a misspelt one was probably meant to be (case, or up to two edits), if any. */
function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * An options object: undefined means none; anything but a plain object, or a key that is not one
 * of `known`, is an error (a misspelt option would otherwise be silently ignored).
 */
export function optionsObject(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidOption(`${where} must be an object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw invalidOption(
      `${where}: unknown option ${JSON.stringify(key)}${guess ? `; did you mean ${JSON.stringify(guess)}?` : ''} ` +
        `(known: ${known.join(', ')})`,
    );
  }
  return value as Record<string, unknown>;
}
