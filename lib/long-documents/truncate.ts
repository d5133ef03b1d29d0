/** Cohere's max_tokens_per_doc: documents cut to their first tokens (lib/server/rerank-api.ts). */
import { abortError } from '../errors';
import type { Tokenizer } from '../tokenizer';
import { cutLongPieces, PIECE, type Pieces } from './plan';

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
