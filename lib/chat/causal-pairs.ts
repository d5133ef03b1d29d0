/**
 * How a causal-LM reranker's pairs reach the engine: each pair rendered by the chat template
 * (conversation.ts) into one text, with the template's closing ids for truncated rows
 * (suffix.ts), found once per prompt.
 */
import type { Tokenizer } from '../tokenizer';
import { ChatRenderer } from './conversation';
import type { CausalModules } from './saved-config';
import { templateSuffix } from './suffix';

/** Distinct prompts whose suffix is kept (a server's callers may send many). */
const SUFFIX_CACHE = 64;

export class CausalPairs {
  readonly renderer: ChatRenderer;
  readonly #tokenizer: Tokenizer;
  readonly #suffixes = new Map<string | undefined, Int32Array>();

  constructor(modules: CausalModules, tokenizer: Tokenizer) {
    this.renderer = new ChatRenderer(modules.chat);
    this.#tokenizer = tokenizer;
  }

  /** The ids a row cut to maxLength must end with (empty with restore_suffix false). */
  suffix(prompt: string | undefined): Int32Array {
    if (!this.renderer.restoreSuffix) return new Int32Array(0);
    let ids = this.#suffixes.get(prompt);
    if (ids === undefined) {
      ids = templateSuffix(this.renderer, this.#tokenizer, prompt);
      if (this.#suffixes.size >= SUFFIX_CACHE) this.#suffixes.delete(this.#suffixes.keys().next().value);
      this.#suffixes.set(prompt, ids);
    }
    return ids;
  }

  render(query: string, document: string, prompt: string | undefined): string {
    return this.renderer.render(query, document, prompt || undefined);
  }
}
