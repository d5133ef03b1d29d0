/**
 * Long documents (docs/LONG-DOCUMENTS.md), one layer over scoring: a call's (query, document)
 * items are planned into windows (plan.ts), every window of every item is scored in ONE call of
 * the scoring function the caller gives (so windows share the length-sorted batches with each
 * other and with other calls), and each item's window scores are aggregated into its row
 * (aggregate.ts). truncate.ts cuts documents for Cohere's max_tokens_per_doc.
 */
import { abortError } from '../errors';
import { aggregate, documentProgress } from './aggregate';
import { planWindows, type LongDocuments, type Span, type WindowPlan, type WindowSettings } from './plan';

export { aggregate, documentProgress } from './aggregate';
export { DEFAULT_WINDOW_TOKENS, LONG_DOCUMENTS, planWindows } from './plan';
export type { LongDocuments, Span, Window, WindowPlan, WindowSettings } from './plan';
export { truncateDocuments } from './truncate';

/**
 * Where a caller that planned the windows itself (the server, which counts them before it takes
 * permits) puts its plan among predict()/rank() options, so that they are not planned twice. A
 * symbol: not an option users can spell, and invisible to the options check.
 */
export const WINDOW_PLAN = Symbol('torch-cross-encoder.windowPlan');

/** Scores `count` (query, text) pairs read by index, reporting progress in pairs. */
export type ScorePairs = (
  count: number,
  read: (i: number) => readonly [string, string],
  onProgress: ((done: number, total: number) => unknown) | undefined,
) => Promise<Float32Array>;

export interface LongDocumentScores {
  /** items x labels scores. */
  scores: Float32Array;
  /** Each item's window that gave its score ('mean': the best one; one label only, else the first). */
  passages: Span[];
}

/**
 * Scores items window by window: plan (or take `planned`, checked against the items and
 * settings), score every window in one `score` call, aggregate. onProgress counts items.
 */
export async function scoreLongDocuments(
  tokenizer: Parameters<typeof planWindows>[0],
  items: ReadonlyArray<readonly [string, string]>,
  settings: WindowSettings & { labels: number; onProgress?: (done: number, total: number) => unknown },
  where: (i: number) => string,
  score: ScorePairs,
  planned?: WindowPlan,
): Promise<LongDocumentScores> {
  if (settings.signal?.aborted) throw abortError(settings.signal);
  const plan = planned ? checkPlan(planned, items, settings) : await planWindows(tokenizer, items, settings, where);
  const { windows } = plan;
  const first = new Int32Array(items.length + 1);
  for (let i = 0; i < items.length; i++) first[i + 1] = first[i]! + windows[i]!.length;
  const owner = new Int32Array(plan.count);
  for (let i = 0; i < items.length; i++) owner.fill(i, first[i]!, first[i + 1]!);
  const windowScores = await score(plan.count, (w) => {
    const i = owner[w]!;
    const [query, doc] = items[i]!;
    const { start, end } = windows[i]![w - first[i]!]!;
    return [query, start === 0 && end === doc.length ? doc : doc.slice(start, end)];
  }, documentProgress(settings.onProgress, items.length, plan.count));
  const mode = settings.mode;
  const scores = new Float32Array(items.length * settings.labels);
  const passages = items.map((_, i) => windows[i]![aggregate(mode, windowScores, first[i]!, windows[i]!.length, settings.labels, scores, i)]!.passage);
  return { scores, passages };
}

/** A plan handed in (WINDOW_PLAN) must be of these very items and settings. */
function checkPlan(plan: WindowPlan, items: ReadonlyArray<readonly [string, string]>, settings: WindowSettings): WindowPlan {
  const same = plan.items.length === items.length && plan.mode === settings.mode && plan.maxLength === settings.maxLength &&
    (settings.windowTokens === undefined || plan.windowTokens === settings.windowTokens) && plan.stride === (settings.stride ?? plan.stride) &&
    items.every(([q, d], i) => plan.items[i]![0] === q && plan.items[i]![1] === d);
  if (!same) throw new TypeError('a window plan was handed in for other documents or other long-document options');
  return plan;
}
