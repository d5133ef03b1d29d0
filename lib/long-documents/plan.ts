/**
 * Windows of long documents (docs/LONG-DOCUMENTS.md): a document with more tokens than its window
 * (windowTokens, and at most what fits beside the query in maxLength) is cut into windows of
 * whole tokens of the document encoded alone. Each document is encoded once, with offsets; a
 * window starts at a token that starts a word (word ids change there), so that its text
 * re-encodes to the same tokens, and its text runs from the end of the token before it (0 for the
 * first) to the end of its last token (endOfTokens): the space that byte-level BPE and Metaspace
 * fold into a word's first token (and that trim_offsets leaves out of its offsets) stays with it. A single
 * word longer than a window is cut between two of its tokens; those parts may re-tokenize
 * differently from the whole word.
 */
import { abortError } from '../errors';
import type { Encoding, Tokenizer } from '../tokenizer';
import { invalidInput, invalidOption } from '../validate';

/**
 * Document tokens a window holds by default (PredictOptions.windowTokens), with the windowed modes.
 * Small windows find evidence that a long window drowns in unrelated text (docs/LONG-DOCUMENTS.md).
 */
export const DEFAULT_WINDOW_TOKENS = 128;

/** How a document longer than the window is scored. */
export type LongDocuments = 'truncate' | 'max' | 'mean' | 'first';
export const LONG_DOCUMENTS = ['truncate', 'max', 'mean', 'first'] as const satisfies readonly LongDocuments[];

/** A part of a document: UTF-16 indices, so that `document.slice(start, end)` is its text. */
export interface Span {
  start: number;
  end: number;
}

/**
 * A window of a document: `start`..`end`, the text scored; `passage`, the text of its tokens
 * ([start of its first token, end of its last: endOfTokens), returnPassage); `tokens`, its tokens' indices in
 * the document encoded alone. A document that fits is one window: the whole document, as it is.
 */
export interface Window extends Span {
  passage: Span;
  tokens: Span;
}

export interface WindowSettings {
  /** Tokens a pair at most (the model's maxLength). */
  maxLength: number;
  /** Document tokens a window at most; undefined: DEFAULT_WINDOW_TOKENS. */
  windowTokens: number | undefined;
  /** Token overlap between consecutive windows; undefined: a quarter of the window. */
  stride: number | undefined;
  mode: Exclude<LongDocuments, 'truncate'>;
  signal?: AbortSignal;
}

/**
 * The windows of a list of (query, document) items, as planned for one call: a server plans them
 * to count what a request costs, and hands the same plan to rank()/predict() (WINDOW_PLAN).
 */
export interface WindowPlan {
  readonly items: ReadonlyArray<readonly [string, string]>;
  readonly mode: Exclude<LongDocuments, 'truncate'>;
  readonly windowTokens: number;
  readonly stride: number | undefined;
  readonly maxLength: number;
  /** Each item's windows, in document order ('first': one). */
  readonly windows: Window[][];
  /** Windows over all items. */
  readonly count: number;
}

/**
 * The windows of each (query, document) item: one window spanning the whole document when it
 * has at most its window's tokens (the same pair text as 'truncate' scores), else windows of at
 * most that many tokens, each starting at a word, consecutive ones sharing at most `stride`
 * tokens, together covering every token ('first': the first window only). `where(i)` names item
 * i in error messages ("pairs[3]").
 */
export async function planWindows(
  tokenizer: Tokenizer,
  items: ReadonlyArray<readonly [string, string]>,
  settings: WindowSettings,
  where: (i: number) => string,
): Promise<WindowPlan> {
  const { maxLength, mode, signal } = settings;
  const windowTokens = settings.windowTokens ?? DEFAULT_WINDOW_TOKENS;
  const room = await roomBesideQueries(tokenizer, items, maxLength, signal);
  // 'first' scores one window, so a document is read only one token past the largest window (the
  // native tokenizer stops there), not to its end.
  const readUpTo = mode === 'first' ? items.reduce((most, _, i) => Math.max(most, Math.min(windowTokens, room.of(i))), 1) + 1 : undefined;
  const docs = await tokenizer.encodeBatch(items.map(([, doc]) => doc), { addSpecialTokens: false, returnOffsets: true, ...(readUpTo !== undefined && { maxLength: readUpTo }) });
  if (signal?.aborted) throw abortError(signal);
  const windows = items.map(([, doc], i): Window[] => {
    const encoding = docs[i]!;
    const n = encoding.ids.length;
    if (n <= Math.min(windowTokens, room.of(i))) return [{ start: 0, end: doc.length, passage: { start: 0, end: doc.length }, tokens: { start: 0, end: n } }];
    const { budget, stride } = windowBudget(room, i, { windowTokens, stride: settings.stride, mode }, where);
    return cutWindows(doc, encoding, budget, stride, mode === 'first');
  });
  return { items, mode, windowTokens, stride: settings.stride, maxLength, windows, count: windows.reduce((sum, w) => sum + w.length, 0) };
}

/**
 * Windows of at most `budget` tokens over an encoding with offsets and word ids (see the top of
 * this file), ending at the last boundary within reach and the next starting at the earliest word
 * start that leaves at most `stride` tokens shared with it (else where it ends). Boundaries are
 * tried in order: a word after a space (in the window's second half), any word, and (to end a
 * window inside a word longer than it) a token that does not share a character with the one before.
 */
function cutWindows(doc: string, encoding: Encoding, budget: number, stride: number, firstOnly: boolean): Window[] {
  const offsets = encoding.offsets!;
  const wordIds = encoding.wordIds!;
  const n = encoding.ids.length;
  const startsWord = (t: number) => t === 0 || wordIds[t] !== wordIds[t - 1];
  // A word after a space re-encodes as the doc has it even where the pre-tokenizer gives a text's
  // first word a space (RoBERTa's add_prefix_space): the doc's word had one (in its offsets, or
  // just before them where trim_offsets leaves it out).
  const afterSpace = (t: number) => t === 0 || (startsWord(t) && (doc[offsets[2 * t]! - 1] === ' ' || doc[offsets[2 * t]!] === ' '));
  const whole = (t: number) => offsets[2 * t]! >= offsets[2 * t - 1]!;
  const boundaries = [afterSpace, startsWord, whole];
  const out: Window[] = [];
  for (let s = 0; ;) {
    let e = Math.min(n, s + budget);
    // A word after a space only in the window's second half: a long run without spaces (CJK text
    // under BERT, whose characters are words of their own) must not shrink the window to a token.
    if (e < n) e = lastBoundary([afterSpace], s + Math.ceil(budget / 2), e) ?? lastBoundary(boundaries.slice(1), s + 1, e) ?? e;
    const end = endOfTokens(doc, offsets, e);
    out.push({ start: s === 0 ? 0 : endOfTokens(doc, offsets, s), end, passage: { start: offsets[2 * s]!, end }, tokens: { start: s, end: e } });
    if (e === n || firstOnly) return out;
    // Not inside a word: with no word start in reach, the next window starts where this one ends.
    s = firstBoundary(boundaries.slice(0, 2), Math.max(s + 1, e - stride), e) ?? e;
  }
}

/** The last token in [from, to] that is a boundary of the first kind that has one there. */
function lastBoundary(kinds: Array<(t: number) => boolean>, from: number, to: number): number | undefined {
  for (const is of kinds) for (let t = to; t >= from; t--) if (is(t)) return t;
  return undefined;
}

/** The first token in [from, to) that is a boundary of the first kind that has one there. */
function firstBoundary(kinds: Array<(t: number) => boolean>, from: number, to: number): number | undefined {
  for (const is of kinds) for (let t = from; t < to; t++) if (is(t)) return t;
  return undefined;
}

/** Unicode White_Space: what every supported pre-tokenizer splits at (or folds into the next word's first token). */
const WHITE_SPACE = /[\t\n\v\f\r \u0085\u2028\u2029\p{Zs}]/u;

/**
 * Where the text of tokens ..t-1 ends (t >= 1): the end of token t - 1, and past it the characters
 * before the next whitespace that no token's offsets hold, which belong to token t - 1's text: a
 * combining mark a composing normalizer (NFC, NFKC, sentencepiece's) folded into the character
 * before, whose offsets (as tokenizers reports them) name that character alone. Without them a
 * window's text would end with a bare base character, and the next one start with a bare mark.
 */
export function endOfTokens(doc: string, offsets: Uint32Array, t: number): number {
  let end = offsets[2 * t - 1]!;
  const limit = 2 * t < offsets.length ? Math.max(end, offsets[2 * t]!) : doc.length;
  while (end < limit && !WHITE_SPACE.test(doc[end]!)) end++;
  return end;
}

/** Tokens of every pair besides the two texts ([CLS] q [SEP] d [SEP]: 3 for BERT, 4 for XLM-R), and each item's query tokens. */
interface Room {
  specials: number;
  maxLength: number;
  queryTokens: (i: number) => number;
  /** Document tokens that fit beside item i's query in maxLength (may be < 1). */
  of: (i: number) => number;
}

async function roomBesideQueries(tokenizer: Tokenizer, items: ReadonlyArray<readonly [string, string]>, maxLength: number, signal: AbortSignal | undefined): Promise<Room> {
  const specials = tokenizer.encode('', '').ids.length;
  const queries = [...new Set(items.map(([q]) => q))];
  const encoded = await tokenizer.encodeBatch(queries, { addSpecialTokens: false });
  if (signal?.aborted) throw abortError(signal);
  const tokens = new Map(queries.map((q, k) => [q, encoded[k]!.ids.length]));
  const queryTokens = (i: number) => tokens.get(items[i]![0])!;
  return { specials, maxLength, queryTokens, of: (i) => maxLength - specials - queryTokens(i) };
}

/**
 * Item i's window (document tokens) and stride: the smaller of windowTokens and the room beside
 * its query, which is never truncated; errors name the item with `where`.
 */
function windowBudget(room: Room, i: number, settings: { windowTokens: number; stride: number | undefined; mode: LongDocuments }, where: (i: number) => string): { budget: number; stride: number } {
  const { specials, maxLength } = room;
  const q = room.queryTokens(i);
  const fits = room.of(i);
  if (fits < 1) {
    throw invalidInput(
      `${where(i)}: the query takes ${q} tokens and a pair's special tokens ${specials}, which leaves no room for the ` +
        `document in maxLength ${maxLength}. With longDocuments '${settings.mode}' the query is never truncated: ` +
        "shorten the query, load the model with a larger maxLength, or use longDocuments: 'truncate'.",
    );
  }
  const budget = Math.min(settings.windowTokens, fits);
  const stride = settings.stride ?? Math.floor(budget / 4);
  if (stride >= budget) {
    const why = budget === settings.windowTokens
      ? `windowTokens ${budget}`
      : `maxLength ${maxLength} - ${q} query tokens - ${specials} special tokens = ${budget} tokens for the document (below windowTokens ${settings.windowTokens})`;
    throw invalidOption(`stride ${stride} must be smaller than the window of ${where(i)}: ${why}.`);
  }
  return { budget, stride };
}
