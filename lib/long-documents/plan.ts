/**
 * Long documents (docs/LONG-DOCUMENTS.md): a document whose pair with its query is longer than the
 * model's maxLength is split into windows of whole tokens that fit beside the query, every window
 * is scored as its own pair, and the document's score is an aggregate of its windows' scores.
 *
 * Windows are cut where the text has whitespace. The package's tokenizer gives no character
 * offsets, but whitespace is a token boundary for every pre-tokenizer it supports (BERT's, Metaspace,
 * byte-level BPE all split there), so a window made of whole whitespace-separated pieces is made of
 * whole tokens: its text is an exact slice of the document, and the tokens counted for it are the
 * tokens it is scored with. Each window is checked by encoding its actual pair before any scoring,
 * and shrunk by a piece if it does not fit, so no window is ever truncated by the engine.
 */
import { abortError } from '../errors';
import { yieldToEventLoop } from '../text-transfer';
import type { Tokenizer } from '../tokenizer';
import { invalidInput, invalidOption } from '../validate';

/**
 * Document tokens a window holds by default (PredictOptions.windowTokens), with the windowed modes.
 * Small windows find evidence that a long window drowns in unrelated text (docs/LONG-DOCUMENTS.md).
 */
export const DEFAULT_WINDOW_TOKENS = 128;

/** How a document longer than the window is scored. */
export type LongDocuments = 'truncate' | 'max' | 'mean' | 'first';
export const LONG_DOCUMENTS = ['truncate', 'max', 'mean', 'first'] as const satisfies readonly LongDocuments[];

/** A window of a document: UTF-16 indices, so that `document.slice(start, end)` is its text. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Whitespace windows are cut at: Unicode White_Space, which BERT's normalizer and pre-tokenizer,
 * Metaspace and byte-level BPE all treat as a split point. U+FEFF and U+200B are left out: they are
 * not White_Space, and some tokenizers keep them inside a word.
 */
export const PIECE = /[^\t\n\v\f\r \u0085\u2028\u2029\p{Zs}]+/gu;

/**
 * A whitespace-free piece longer than the window is cut by characters; a cut is searched among
 * the first this many UTF-16 units per token of budget (BERT's longest token, an unknown word, is
 * 100 characters), so that a huge piece costs time in proportion to its length.
 */
const CHARS_PER_TOKEN_SEARCHED = 128;

export interface Pieces {
  starts: number[];
  ends: number[];
  counts: number[];
}

/** A window as piece indices, first..last inclusive. */
interface PieceWindow {
  first: number;
  last: number;
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

/** A window: the text scored, and the passage it stands for (returnPassage), as UTF-16 spans of the document. */
export interface Window extends Span {
  passage: Span;
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
 * The windows of each (query, document) item: one window spanning the whole document when the pair
 * fits in maxLength (the same pair text as 'truncate' scores), else whitespace-cut windows that
 * each fit beside the untruncated query, with consecutive windows overlapping by at most `stride`
 * tokens of whole pieces, covering every piece of the document.
 * `where(i)` names item i in error messages ("pairs[3]").
 */
export async function planWindows(
  tokenizer: Tokenizer,
  items: ReadonlyArray<readonly [string, string]>,
  settings: WindowSettings,
  where: (i: number) => string,
): Promise<WindowPlan> {
  const windowTokens = settings.windowTokens ?? DEFAULT_WINDOW_TOKENS;
  const spans = await planSpans(tokenizer, items, { ...settings, windowTokens, firstOnly: settings.mode === 'first' }, where);
  const windows = spans.map((ws) => ws.map((w): Window => ({ start: w.start, end: w.end, passage: { start: w.start, end: w.end } })));
  return {
    items, mode: settings.mode, windowTokens, stride: settings.stride, maxLength: settings.maxLength,
    windows, count: windows.reduce((n, w) => n + w.length, 0),
  };
}

async function planSpans(
  tokenizer: Tokenizer,
  items: ReadonlyArray<readonly [string, string]>,
  settings: WindowSettings & { windowTokens: number; firstOnly: boolean },
  where: (i: number) => string,
): Promise<Span[][]> {
  const { maxLength, signal } = settings;
  const checkAbort = () => {
    if (signal?.aborted) throw abortError(signal);
  };
  const docs = await tokenizer.encodeBatch(items.map(([, doc]) => doc), { addSpecialTokens: false });
  checkAbort();
  const out: Span[][] = items.map(([, doc]) => [{ start: 0, end: doc.length }]);
  const room = await roomBesideQueries(tokenizer, items, maxLength, signal);
  const long = items.flatMap((_, i) => (docs[i]!.ids.length > Math.min(settings.windowTokens, room.of(i)) ? [i] : []));
  if (long.length === 0) return out;
  const budgets = long.map((i) => windowBudget(room, i, settings, where));

  // Every whitespace-separated piece of every long document, counted in one batch.
  const pieces: Pieces[] = long.map((i) => {
    const p: Pieces = { starts: [], ends: [], counts: [] };
    for (const m of items[i]![1].matchAll(PIECE)) {
      p.starts.push(m.index!);
      p.ends.push(m.index! + m[0].length);
    }
    return p;
  });
  const texts = pieces.flatMap((p, k) => p.starts.map((s, j) => items[long[k]!]![1].slice(s, p.ends[j])));
  const counted = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
  checkAbort();
  let n = 0;
  for (const p of pieces) for (let j = 0; j < p.starts.length; j++) p.counts.push(counted[n++]!.ids.length);
  for (let k = 0; k < long.length; k++) {
    if (pieces[k]!.counts.some((c) => c > budgets[k]!.budget)) {
      pieces[k] = await cutLongPieces(tokenizer, items[long[k]!]![1], pieces[k]!, budgets[k]!.budget, checkAbort);
    }
  }

  // Plan greedily, check every planned window's real pair, and re-plan a document from its first
  // window that does not fit, one piece shorter; repeated until every window fits.
  const accepted: PieceWindow[][] = long.map(() => []);
  let pending: PieceWindow[][] = long.map((_, k) => plan(pieces[k]!, 0, budgets[k]!, settings.firstOnly));
  while (pending.some((w) => w.length > 0)) {
    const checks: Array<[string, string]> = [];
    pending.forEach((windows, k) => {
      const [query, doc] = items[long[k]!]!;
      for (const w of windows) checks.push([query, doc.slice(pieces[k]!.starts[w.first], pieces[k]!.ends[w.last])]);
    });
    const encoded = await tokenizer.encodeBatch(checks);
    checkAbort();
    let c = 0;
    pending = pending.map((windows, k) => {
      const p = pieces[k]!;
      for (let f = 0; f < windows.length; f++) {
        if (encoded[c + f]!.ids.length <= maxLength) continue;
        c += windows.length;
        accepted[k]!.push(...windows.slice(0, f));
        const w = windows[f]!;
        if (w.last > w.first) return plan(p, w.first, budgets[k]!, settings.firstOnly, w.last - 1);
        // A single piece that does not fit although it was counted to: not seen with the
        // supported tokenizers; it is kept (and truncated like 'truncate' does) rather than lost.
        accepted[k]!.push(w);
        return settings.firstOnly || w.last === p.counts.length - 1 ? [] : plan(p, nextStart(p, w, budgets[k]!.stride), budgets[k]!, false);
      }
      c += windows.length;
      accepted[k]!.push(...windows);
      return [];
    });
  }
  long.forEach((i, k) => {
    const p = pieces[k]!;
    if (accepted[k]!.length > 0) out[i] = accepted[k]!.map((w) => ({ start: p.starts[w.first]!, end: p.ends[w.last]! }));
  });
  return out;
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

/**
 * Windows from piece `from` on: each takes pieces while their counted tokens fit in the budget
 * (the first window ends at piece `lastAtMost` at the latest); the next starts at the earliest
 * piece after this window's first such that the pieces from there to this window's end hold at
 * most `stride` tokens.
 */
function plan(p: Pieces, from: number, b: { budget: number; stride: number }, firstOnly: boolean, lastAtMost?: number): PieceWindow[] {
  const n = p.counts.length;
  const out: PieceWindow[] = [];
  for (let i = from; i < n;) {
    const limit = out.length === 0 && lastAtMost !== undefined ? lastAtMost : n - 1;
    let j = i;
    let sum = p.counts[i]!;
    while (j < limit && sum + p.counts[j + 1]! <= b.budget) sum += p.counts[++j]!;
    out.push({ first: i, last: j });
    if (firstOnly || j === n - 1) break;
    i = nextStart(p, { first: i, last: j }, b.stride);
  }
  return out;
}

function nextStart(p: Pieces, w: PieceWindow, stride: number): number {
  let k = w.last + 1;
  let overlap = 0;
  while (k - 1 > w.first && overlap + p.counts[k - 1]! <= stride) overlap += p.counts[--k]!;
  return k;
}

/**
 * Pieces with more tokens than the budget (a long run of text without whitespace: CJK text, a
 * sequence, a URL) cut by characters into parts that each encode to at most `budget` tokens,
 * never inside a surrogate pair. Such a cut can fall inside a word, whose parts then tokenize
 * differently from the whole word; no text is lost either way.
 */
export async function cutLongPieces(tokenizer: Tokenizer, doc: string, p: Pieces, budget: number, checkAbort: () => void): Promise<Pieces> {
  const out: Pieces = { starts: [], ends: [], counts: [] };
  const count = (start: number, end: number) => tokenizer.encode(doc.slice(start, end), null, { addSpecialTokens: false }).ids.length;
  for (let j = 0; j < p.counts.length; j++) {
    if (p.counts[j]! <= budget) {
      out.starts.push(p.starts[j]!);
      out.ends.push(p.ends[j]!);
      out.counts.push(p.counts[j]!);
      continue;
    }
    for (let pos = p.starts[j]!; pos < p.ends[j]!;) {
      await yieldToEventLoop();
      checkAbort();
      // lo always fits (or is the one code point that must be taken anyway); hi is the search's end.
      let lo = pos + codePointLength(doc, pos);
      let hi = Math.min(p.ends[j]!, pos + budget * CHARS_PER_TOKEN_SEARCHED);
      if (count(pos, hi) <= budget) lo = hi;
      while (hi - lo > 1) {
        let mid = (lo + hi) >>> 1;
        if (isLowSurrogateAt(doc, mid)) mid--;
        if (mid <= lo) break;
        if (count(pos, mid) <= budget) lo = mid;
        else hi = mid;
      }
      out.starts.push(pos);
      out.ends.push(lo);
      out.counts.push(count(pos, lo));
      pos = lo;
    }
  }
  return out;
}

function codePointLength(s: string, i: number): number {
  return (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
}

function isLowSurrogateAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  const before = s.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && before >= 0xd800 && before <= 0xdbff;
}

