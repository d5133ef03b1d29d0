/** A long document's score from its windows' scores (docs/LONG-DOCUMENTS.md), and progress in documents. */
import type { LongDocuments } from './plan';

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
