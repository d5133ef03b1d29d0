/**
 * A (query, document) pair as a causal-LM reranker reads it: the messages sentence-transformers
 * 6.3 makes of it (roles "query" and "document", a prompt as a leading "system" message),
 * rendered by the model's own chat template with @huggingface/jinja as transformers'
 * apply_chat_template renders them (trim_blocks and lstrip_blocks, the special tokens and the
 * saved template arguments as variables).
 */
import { createRequire } from 'node:module';
import type { Template as JinjaTemplate } from '@huggingface/jinja' with { 'resolution-mode': 'import' };
import { TceError } from '../errors';
import type { ChatSettings } from './saved-config';

// The package ships a CommonJS build (dist/index.cjs) beside its ES module, which this CommonJS
// package requires; the types are the ES module's. Required on the first causal-LM model only, so
// that loading this package (and every other model) never needs it.
let templateClass: typeof JinjaTemplate | undefined;
function jinjaTemplate(): typeof JinjaTemplate {
  templateClass ??= (createRequire(__filename)('@huggingface/jinja') as { Template: typeof JinjaTemplate }).Template;
  return templateClass;
}

type Content = string | Array<{ type: 'text'; text: string }>;
interface Message {
  role: string;
  content: Content;
}

export class ChatRenderer {
  readonly #template: JinjaTemplate;
  readonly #settings: ChatSettings;

  constructor(settings: ChatSettings) {
    this.#settings = settings;
    try {
      this.#template = new (jinjaTemplate())(settings.template);
    } catch (error) {
      throw new TceError('TCE_MODEL_DIR', `${settings.templateSource}: the chat template does not parse: ${(error as Error).message}`, { cause: error });
    }
  }

  get restoreSuffix(): boolean {
    return this.#settings.restoreSuffix;
  }

  #content(text: string): Content {
    return this.#settings.messageFormat === 'flat' ? text : [{ type: 'text', text }];
  }

  /** The messages of a pair; an empty or absent prompt adds no system message (as upstream). */
  messages(query: string, document: string, prompt: string | undefined): Message[] {
    const messages: Message[] = [];
    if (prompt) messages.push({ role: 'system', content: this.#content(prompt) });
    messages.push({ role: 'query', content: this.#content(query) }, { role: 'document', content: this.#content(document) });
    return messages;
  }

  /** The text the tokenizer gets for one pair. */
  render(query: string, document: string, prompt: string | undefined): string {
    const messages = this.messages(query, document, prompt);
    try {
      return this.#template.render({ ...this.#settings.variables, messages, tools: null, documents: null });
    } catch (error) {
      throw new TceError('TCE_INVALID_INPUT', `${this.#settings.templateSource}: the chat template failed to render a pair: ${(error as Error).message}`, { cause: error });
    }
  }
}
