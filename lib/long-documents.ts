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
import { abortError } from './errors';
import { yieldToEventLoop } from './text-transfer';
import type { Tokenizer } from './tokenizer';
import { invalidInput, invalidOption } from './validate';

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
const PIECE = /[^\t\n\v\f\r \u0085\u2028\u2029\p{Zs}]+/gu;

/**
 * A whitespace-free piece longer than the window is cut by characters; a cut is searched among
 * the first this many UTF-16 units per token of budget (BERT's longest token, an unknown word, is
 * 100 characters), so that a huge piece costs time in proportion to its length.
 */
const CHARS_PER_TOKEN_SEARCHED = 128;

interface Pieces {
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
  maxLength: number;
  /** Token overlap between consecutive windows; undefined: a quarter of the window. */
  stride: number | undefined;
  /** Only the first window is needed ('first'). */
  firstOnly: boolean;
  mode: LongDocuments;
  signal?: AbortSignal;
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
): Promise<Span[][]> {
  const { maxLength, signal } = settings;
  const checkAbort = () => {
    if (signal?.aborted) throw abortError(signal);
  };
  const full = await tokenizer.encodeBatch(items);
  checkAbort();
  const out: Span[][] = items.map(([, doc]) => [{ start: 0, end: doc.length }]);
  const long = items.flatMap((_, i) => (full[i]!.ids.length > maxLength ? [i] : []));
  if (long.length === 0) return out;

  // Tokens of every pair besides the two texts ([CLS] q [SEP] d [SEP]: 3 for BERT, 4 for XLM-R).
  const specials = tokenizer.encode('', '').ids.length;
  const queries = [...new Set(long.map((i) => items[i]![0]))];
  const queryEncodings = await tokenizer.encodeBatch(queries, { addSpecialTokens: false });
  const queryTokens = new Map(queries.map((q, k) => [q, queryEncodings[k]!.ids.length]));
  checkAbort();

  const budgets = long.map((i) => {
    const q = queryTokens.get(items[i]![0])!;
    const budget = maxLength - specials - q;
    if (budget < 1) {
      throw invalidInput(
        `${where(i)}: the query takes ${q} tokens and a pair's special tokens ${specials}, which leaves no room for the ` +
          `document in maxLength ${maxLength}. With longDocuments '${settings.mode}' the query is never truncated: ` +
          "shorten the query, load the model with a larger maxLength, or use longDocuments: 'truncate'.",
      );
    }
    const stride = settings.stride ?? Math.floor(budget / 4);
    if (stride >= budget) {
      throw invalidOption(
        `stride ${stride} must be smaller than the window of ${where(i)}: maxLength ${maxLength} - ${q} query tokens - ` +
          `${specials} special tokens = ${budget} tokens for the document.`,
      );
    }
    return { budget, stride };
  });

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
async function cutLongPieces(tokenizer: Tokenizer, doc: string, p: Pieces, budget: number, checkAbort: () => void): Promise<Pieces> {
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

/**
 * A document's score from its windows' rows of `labels` scores: 'max' takes the best window (a
 * NaN window never wins unless every window is NaN), 'mean' averages each label, 'first' (which
 * scored one window) takes it. Returns the row and the window it came from ('mean': the best one).
 */
export function aggregate(mode: Exclude<LongDocuments, 'truncate'>, scores: Float32Array, from: number, count: number, labels: number, into: Float32Array, at: number): number {
  let best = 0;
  if (labels === 1) {
    for (let w = 1; w < count; w++) {
      const s = scores[from + w]!;
      const b = scores[from + best]!;
      if (s > b || (Number.isNaN(b) && !Number.isNaN(s))) best = w;
    }
  }
  if (mode === 'mean') {
    for (let l = 0; l < labels; l++) {
      let sum = 0;
      for (let w = 0; w < count; w++) sum += scores[(from + w) * labels + l]!;
      into[at * labels + l] = sum / count;
    }
  } else {
    into.set(scores.subarray((from + best) * labels, (from + best + 1) * labels), at * labels);
  }
  return best;
}

/**
 * The caller's onProgress counting documents while the engine counts windows: done windows are
 * mapped to floor(done * documents / windows), reported when that number grows, so the reports
 * rise monotonically from 1 and the last is (documents, documents).
 */
export function documentProgress(
  onProgress: ((done: number, total: number) => unknown) | undefined,
  documents: number,
  windows: number,
): ((done: number, total: number) => unknown) | undefined {
  if (!onProgress) return undefined;
  let reported = 0;
  return (done: number) => {
    const docs = done >= windows ? documents : Math.floor((done * documents) / windows);
    if (docs <= reported) return undefined;
    reported = docs;
    return onProgress(docs, documents);
  };
}

/**
 * Each document cut to its first whole whitespace-separated pieces that encode to at most
 * `maxTokens` tokens (without special tokens), as Cohere's `max_tokens_per_doc` truncates: a
 * document that fits is returned as it is; a piece that would cross the limit is left out whole
 * (its tokens alone are never split), except a first piece longer than the limit, which is cut by
 * characters (cutLongPieces). Each cut is checked by encoding it, and shortened by a piece until
 * it fits.
 */
export async function truncateDocuments(tokenizer: Tokenizer, documents: readonly string[], maxTokens: number, signal?: AbortSignal): Promise<string[]> {
  const checkAbort = () => {
    if (signal?.aborted) throw abortError(signal);
  };
  const out = [...documents];
  const whole = await tokenizer.encodeBatch(documents, { addSpecialTokens: false });
  checkAbort();
  const long = documents.flatMap((_, i) => (whole[i]!.ids.length > maxTokens ? [i] : []));
  if (long.length === 0) return out;
  const pieces: Pieces[] = long.map((i) => {
    const p: Pieces = { starts: [], ends: [], counts: [] };
    for (const m of documents[i]!.matchAll(PIECE)) {
      p.starts.push(m.index!);
      p.ends.push(m.index! + m[0].length);
    }
    return p;
  });
  const counted = await tokenizer.encodeBatch(pieces.flatMap((p, k) => p.starts.map((s, j) => documents[long[k]!]!.slice(s, p.ends[j]))), { addSpecialTokens: false });
  checkAbort();
  let n = 0;
  for (const p of pieces) for (let j = 0; j < p.starts.length; j++) p.counts.push(counted[n++]!.ids.length);
  // The number of pieces each cut keeps: as many as fit by their counts.
  const kept = await Promise.all(pieces.map(async (p, k) => {
    if (p.counts[0]! > maxTokens) {
      const first: Pieces = { starts: [p.starts[0]!], ends: [p.ends[0]!], counts: [p.counts[0]!] };
      pieces[k] = await cutLongPieces(tokenizer, documents[long[k]!]!, first, maxTokens, checkAbort);
      return 1;
    }
    let sum = 0;
    let j = 0;
    while (j < p.counts.length && sum + p.counts[j]! <= maxTokens) sum += p.counts[j++]!;
    return j;
  }));
  const cut = (k: number) => documents[long[k]!]!.slice(0, pieces[k]!.ends[kept[k]! - 1]);
  // Checked as a whole: a piece may encode differently beside its neighbours.
  for (let pending = long.map((_, k) => k); pending.length > 0;) {
    const encoded = await tokenizer.encodeBatch(pending.map(cut), { addSpecialTokens: false });
    checkAbort();
    pending = pending.filter((k, c) => encoded[c]!.ids.length > maxTokens && kept[k]! > 1 && (kept[k]!--, true));
  }
  long.forEach((i, k) => (out[i] = cut(k)));
  return out;
}
