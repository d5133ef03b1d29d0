/**
 * The closing tokens of a chat template (sentence-transformers 6.3's restore_suffix): a pair
 * truncated to maxLength loses the template's tail first (the assistant prefill a causal-LM
 * reranker scores at), so the engine writes these ids back over the last tokens of a row that
 * reached maxLength (native/engine/rendered_input.h). As upstream, they are found by rendering
 * the conversation twice with different fillers in place of the query and document (a prompt's
 * system message kept as it is) and taking the longest common run of trailing token ids.
 */
import type { Tokenizer } from '../tokenizer';
import type { ChatRenderer } from './conversation';

/** Fillers that tokenize differently, so that their common tail is the template's alone. */
const FILLERS = ['0', '1 2 3 4'] as const;

export function templateSuffix(renderer: ChatRenderer, tokenizer: Tokenizer, prompt: string | undefined): Int32Array {
  const [first, second] = FILLERS.map(
    (filler) => tokenizer.encode(renderer.render(filler, filler, prompt), null, { addSpecialTokens: false }).ids,
  ) as [Int32Array, Int32Array];
  let count = 0;
  while (count < first.length && count < second.length && first[first.length - 1 - count] === second[second.length - 1 - count]) count++;
  // Renders that never diverge have no variable content to tell the tail from: no suffix.
  if (count === 0 || count >= Math.min(first.length, second.length)) return new Int32Array(0);
  return first.slice(first.length - count);
}
