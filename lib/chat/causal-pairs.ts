/**
 * How a causal-LM reranker's pairs reach the engine: each pair rendered by the chat template
 * (conversation.ts) into one text, with the template's closing ids for truncated rows
 * (suffix.ts), found once per prompt.
 */
import path from 'node:path';
import { abortError, TceError } from '../errors';
import { yieldToEventLoop } from '../text-transfer';
import type { Tokenizer } from '../tokenizer';
import { readExportMetadata } from '../torchscript-archive';
import { ChatRenderer } from './conversation';
import type { CausalModules } from './saved-config';
import { templateSuffix } from './suffix';

/** Distinct prompts whose suffix is kept (a server's callers may send many). */
const SUFFIX_CACHE = 64;
/**
 * Pairs rendered between two turns of the event loop: a render takes tens of microseconds
 * (about 75 us for a Qwen3-Reranker-style template on a busy 2-core machine), so a chunk holds
 * the loop for some 20 ms.
 */
const RENDER_CHUNK = 256;

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

  /** Items 0..count-1 rendered a chunk at a time; stops with an AbortError if `signal` aborts meanwhile. */
  async renderAll(count: number, read: (i: number) => readonly [string, string], prompt: string | undefined, signal?: AbortSignal): Promise<string[]> {
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      if (i > 0 && i % RENDER_CHUNK === 0) {
        await yieldToEventLoop();
        if (signal?.aborted) throw abortError(signal);
      }
      const [query, document] = read(i);
      out[i] = this.render(query, document, prompt);
    }
    return out;
  }
}

/**
 * The engine pads on the right (real tokens first), as scripts/export.py's causal-LM graph
 * expects (tce_padding_side "right"); a model file that says otherwise would score padding.
 */
export function checkPaddingSide(modelFile: string): void {
  const side = readExportMetadata(modelFile)?.tce_padding_side;
  if (side === undefined || side === 'right') return;
  throw new TceError('TCE_MODEL_FILE',
    `${path.basename(modelFile)} says tce_padding_side ${JSON.stringify(side)}, but this package pads causal-LM inputs on the right; ` +
      'export the model again with scripts/export.py.');
}
