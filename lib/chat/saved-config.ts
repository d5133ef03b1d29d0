/**
 * What a sentence-transformers 6 save, or its export (scripts/export.py copies these files), says
 * about how its pairs become model input (README, *Causal-LM rerankers*): the prompts
 * (config_sentence_transformers.json), and for a causal-LM reranker (a Transformer whose
 * sentence_bert_config.json has transformer_task "text-generation"; in a save, modules.json
 * follows it with a LogitScore) the chat template, the arguments sentence-transformers renders
 * it with, and the message format. The LogitScore's token ids are in the exported graph.
 */
import path from 'node:path';
import { TceError } from '../errors';
import { fileKind, readJsonObject, readText } from '../files';
import { describe } from '../validate';

/** How a message's content is written: a string ("flat") or a list of typed parts ("structured"). */
export type MessageFormat = 'flat' | 'structured';

export interface ChatSettings {
  /** The Jinja source of the model's chat template. */
  template: string;
  /** Where it was read from, for error messages. */
  templateSource: string;
  /**
   * Variables the template is rendered with besides messages: the tokenizer's special tokens
   * (bos_token, eos_token, ...), then the Transformer's processing_kwargs.chat_template (e.g.
   * add_generation_prompt), as transformers' apply_chat_template passes them.
   */
  variables: Record<string, unknown>;
  /** processing_kwargs.chat_template.restore_suffix (default true). */
  restoreSuffix: boolean;
  messageFormat: MessageFormat;
}

export interface SavedPrompts {
  /** config_sentence_transformers.json prompts (name -> text). */
  prompts: Record<string, string>;
  /** Its default_prompt_name (null when none). */
  defaultPromptName: string | null;
}

/** A causal-LM reranker's input settings. */
export interface CausalModules {
  chat: ChatSettings;
}

const TRANSFORMER = 'sentence_transformers.base.modules.transformer.Transformer';
const LOGIT_SCORE = 'sentence_transformers.cross_encoder.modules.logit_score.LogitScore';
/** Keys of processing_kwargs.chat_template that size the tokenizer call, not the template. */
const TOKENIZER_KEYS = new Set(['padding', 'truncation', 'max_length', 'return_tensors']);
/** transformers' special token attributes, the template variables a tokenizer adds. */
const SPECIAL_TOKEN_NAMES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];
/** Patterns by which sentence-transformers infers that a template reads content as typed parts. */
const STRUCTURED_PATTERNS = ['content[0]', '.type', "'type'", '"type"', 'item.type', 'message.content['];

const modelDirError = (message: string) => new TceError('TCE_MODEL_DIR', message);

function readOptionalJson(file: string): Record<string, unknown> | null {
  return fileKind(file, 'TCE_MODEL_DIR') === 'file' ? readJsonObject(file, 'TCE_MODEL_DIR') : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** config_sentence_transformers.json's prompts and default_prompt_name (none when the file is absent). */
export function readSavedPrompts(dir: string): SavedPrompts {
  const file = path.join(dir, 'config_sentence_transformers.json');
  const config = readOptionalJson(file);
  const prompts: Record<string, string> = {};
  const saved = config?.prompts ?? {};
  if (!isObject(saved)) throw modelDirError(`${file}: prompts must be an object of strings, got ${describe(saved)}`);
  for (const [name, text] of Object.entries(saved)) {
    if (typeof text !== 'string') throw modelDirError(`${file}: prompts.${name} must be a string, got ${describe(text)}`);
    prompts[name] = text;
  }
  const name = config?.default_prompt_name ?? null;
  if (name !== null && typeof name !== 'string') {
    throw modelDirError(`${file}: default_prompt_name must be a string or null, got ${describe(name)}`);
  }
  return { prompts, defaultPromptName: name };
}

interface ModuleEntry {
  type: string;
  path: string;
}

function readModules(dir: string): ModuleEntry[] | null {
  const file = path.join(dir, 'modules.json');
  if (fileKind(file, 'TCE_MODEL_DIR') !== 'file') return null;
  let value: unknown;
  try {
    value = JSON.parse(readText(file, 'TCE_MODEL_DIR'));
  } catch (error) {
    if (error instanceof TceError) throw error;
    throw modelDirError(`${file}: is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) throw modelDirError(`${file}: must be a JSON array of modules`);
  return value.map((entry, i) => {
    if (!isObject(entry) || typeof entry.type !== 'string' || typeof entry.path !== 'string') {
      throw modelDirError(`${file}: module ${i} must have string "type" and "path"`);
    }
    return { type: entry.type, path: entry.path };
  });
}

/**
 * A causal-LM reranker's settings, or null when the directory is not one: a save's modules.json
 * names the Transformer's folder, an export holds its sentence_bert_config.json at the top.
 */
export function readCausalModules(dir: string): CausalModules | null {
  const modules = readModules(dir);
  let transformerDir = dir;
  let after: ModuleEntry[] | null = null;
  if (modules) {
    const at = modules.findIndex((m) => m.type === TRANSFORMER);
    if (at < 0) return null;
    transformerDir = path.join(dir, modules[at]!.path);
    after = modules.slice(at + 1);
  }
  const stConfigFile = path.join(transformerDir, 'sentence_bert_config.json');
  const stConfig = readOptionalJson(stConfigFile) ?? {};
  if (stConfig.transformer_task !== 'text-generation') return null;
  if (after && !after.some((m) => m.type === LOGIT_SCORE)) {
    throw modelDirError(
      `${path.join(dir, 'modules.json')}: a "text-generation" Transformer must be followed by a LogitScore module ` +
        `(got ${after.map((m) => m.type).join(', ') || 'nothing'}).`,
    );
  }
  return { chat: readChatSettings(transformerDir, stConfig, stConfigFile) };
}

/** The chat template as transformers loads it: chat_template.jinja, else tokenizer_config.json's. */
function readTemplate(dir: string, tokenizerConfig: Record<string, unknown> | null): { template: string; source: string } {
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fileKind(jinja, 'TCE_MODEL_DIR') === 'file') return { template: readText(jinja, 'TCE_MODEL_DIR'), source: jinja };
  const source = path.join(dir, 'tokenizer_config.json');
  const saved = tokenizerConfig?.chat_template;
  if (typeof saved === 'string') return { template: saved, source };
  // Several named templates: the one called "default", as transformers picks it without tools.
  if (Array.isArray(saved)) {
    const named = saved.find((t) => isObject(t) && t.name === 'default');
    if (named && typeof named.template === 'string') return { template: named.template, source };
    throw modelDirError(`${source}: chat_template lists named templates but none is called "default".`);
  }
  throw modelDirError(
    `${dir}: this causal-LM reranker has no chat template (chat_template.jinja or tokenizer_config.json's chat_template); ` +
      'sentence-transformers renders each pair with it. Save the model with its tokenizer files.',
  );
}

/** The tokenizer's special tokens, as transformers passes them to the template. */
function specialTokens(dir: string, tokenizerConfig: Record<string, unknown> | null): Record<string, string> {
  const map = { ...(readOptionalJson(path.join(dir, 'special_tokens_map.json')) ?? {}), ...(tokenizerConfig ?? {}) };
  const out: Record<string, string> = {};
  for (const name of SPECIAL_TOKEN_NAMES) {
    const value = map[name];
    if (typeof value === 'string') out[name] = value;
    else if (isObject(value) && typeof value.content === 'string') out[name] = value.content;
  }
  return out;
}

function readChatSettings(dir: string, stConfig: Record<string, unknown>, stConfigFile: string): ChatSettings {
  const tokenizerConfig = readOptionalJson(path.join(dir, 'tokenizer_config.json'));
  const { template, source } = readTemplate(dir, tokenizerConfig);
  const processing = stConfig.processing_kwargs ?? {};
  if (!isObject(processing)) throw modelDirError(`${stConfigFile}: processing_kwargs must be an object, got ${describe(processing)}`);
  const chatKwargs = processing.chat_template ?? {};
  if (!isObject(chatKwargs)) throw modelDirError(`${stConfigFile}: processing_kwargs.chat_template must be an object, got ${describe(chatKwargs)}`);
  const variables: Record<string, unknown> = { ...specialTokens(dir, tokenizerConfig), add_generation_prompt: false };
  let restoreSuffix = true;
  for (const [key, value] of Object.entries(chatKwargs)) {
    if (key === 'restore_suffix') restoreSuffix = Boolean(value);
    else if (key === 'continue_final_message' && value) {
      throw modelDirError(`${stConfigFile}: processing_kwargs.chat_template.continue_final_message is not supported.`);
    } else if (!TOKENIZER_KEYS.has(key)) variables[key] = value;
  }
  const modality = stConfig.modality_config;
  const saved = isObject(modality) && isObject(modality.message) ? modality.message.format : undefined;
  let messageFormat: MessageFormat;
  if (saved === 'flat' || saved === 'structured') messageFormat = saved;
  else messageFormat = STRUCTURED_PATTERNS.some((p) => template.includes(p)) ? 'structured' : 'flat';
  return { template, templateSource: source, variables, restoreSuffix, messageFormat };
}
