/**
 * Cohere's max_tokens_per_doc (lib/server/rerank-api.ts): each document cut after its first
 * `maxTokens` tokens, encoded alone (no special tokens).
 */
import { abortError } from '../errors';
import type { Encoding, Tokenizer } from '../tokenizer';
import { endOfTokens } from './plan';

/**
 * Each document cut to `doc.slice(0, end of its token maxTokens)` (with the marks a composing
 * normalizer folded into that token: endOfTokens): a document that fits is returned as it is.
 * Each cut is checked by encoding it, and kept when it encodes to the document's own first tokens
 * (so at most maxTokens): a cut inside a word can re-tokenize otherwise (a byte-level BPE word
 * prefix, a character several tokens share); such a cut moves back to the start of that word
 * (whose whole words re-encode as they were), and a single word longer than the limit is shortened
 * a token at a time until it passes.
 */
export async function truncateDocuments(tokenizer: Tokenizer, documents: readonly string[], maxTokens: number, signal?: AbortSignal): Promise<string[]> {
  const checkAbort = () => {
    if (signal?.aborted) throw abortError(signal);
  };
  const out = [...documents];
  const whole = await tokenizer.encodeBatch(documents, { addSpecialTokens: false, returnOffsets: true });
  checkAbort();
  // The tokens each long document keeps (a cut after token kept - 1).
  const kept = new Map<number, number>();
  documents.forEach((_, i) => {
    if (whole[i]!.ids.length > maxTokens) kept.set(i, maxTokens);
  });
  const cut = (i: number) => documents[i]!.slice(0, endOfTokens(documents[i]!, whole[i]!.offsets!, kept.get(i)!));
  for (let pending = [...kept.keys()], round = 0; pending.length > 0; round++) {
    const encoded = await tokenizer.encodeBatch(pending.map(cut), { addSpecialTokens: false });
    checkAbort();
    pending = pending.filter((i, k) => {
      if (encoded[k]!.ids.length <= maxTokens && startsWith(whole[i]!.ids, encoded[k]!.ids)) return false;
      const n = kept.get(i)!;
      const wordStart = round === 0 ? startOfWord(whole[i]!, n - 1) : 0;
      // Back to the start of the word that was cut; in a word longer than the limit, a token less.
      const shorter = wordStart > 0 ? wordStart : n - 1;
      if (shorter < 1) {
        kept.delete(i);
        out[i] = '';
        return false;
      }
      kept.set(i, shorter);
      return true;
    });
  }
  for (const i of kept.keys()) out[i] = cut(i);
  return out;
}

/** Whether `prefix` is the first tokens of `ids` (so at most as many). */
function startsWith(ids: Int32Array, prefix: Int32Array): boolean {
  if (prefix.length > ids.length) return false;
  for (let t = 0; t < prefix.length; t++) if (prefix[t] !== ids[t]) return false;
  return true;
}

/** The first token of the word token t belongs to. */
function startOfWord(encoding: Encoding, t: number): number {
  const wordIds = encoding.wordIds!;
  let s = t;
  while (s > 0 && wordIds[s - 1] === wordIds[t]) s--;
  return s;
}
