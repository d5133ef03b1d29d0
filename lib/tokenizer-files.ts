/**
 * Reads a tokenizer from Hugging Face files: `tokenizer.json` (any supported pipeline), or a BERT `vocab.txt`,
 * plus `tokenizer_config.json` / `special_tokens_map.json` when present. The result is the spec
 * the native tokenizer is built from. Nothing here hard-codes token ids: they come from the files.
 */
import path from 'node:path';
import { TceError } from './errors';
import { fileKind, readJsonObject, readText as readTextFile } from './files';
import type { NativeTokenizerSpec } from './native';

type AddedTokenSpec = NativeTokenizerSpec['addedTokens'][number];

export interface TokenizerFiles {
  spec: TokenizerSpec;
  /** `model_max_length` from tokenizer_config.json, when it is a real limit. */
  modelMaxLength?: number;
  /** The files that were read, for error messages. */
  sources: string[];
}

/** How far past the number of tokens an id may lie (the native tokenizer's rule for added tokens). */
const ID_SLACK = 1 << 20;

/** transformers writes this (1e30) when a tokenizer has no length limit. */
const NO_LIMIT = 1e18;

function fileError(file: string, message: string, cause?: unknown): TceError {
  return new TceError('TCE_TOKENIZER_FILE', `${file}: ${message}`, cause === undefined ? undefined : { cause });
}

const readText = (file: string) => readTextFile(file, 'TCE_TOKENIZER_FILE');
const readJson = (file: string) => readJsonObject(file, 'TCE_TOKENIZER_FILE');
const exists = (file: string) => fileKind(file, 'TCE_TOKENIZER_FILE') !== 'missing';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Parses vocab.txt the way transformers' `load_vocab` does: one token per line, id = line
 * index, line breaks (LF or CRLF) stripped and nothing else. An empty line is a token ("") that
 * occupies its id, exactly as upstream, so later ids do not shift; a final line break does not
 * start another token. A token that appears twice is an error: upstream silently keeps the
 * later id, which leaves the earlier one unreachable and is always a broken file.
 */
export function parseVocabTxt(text: string, file: string): string[] {
  if (text.length === 0) throw fileError(file, 'is empty');
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const seen = new Map<string, number>();
  const vocab = lines.map((line, i) => {
    const token = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (token !== '') {
      const first = seen.get(token);
      if (first !== undefined) {
        throw fileError(file, `line ${i + 1}: duplicate token ${JSON.stringify(token)} (first on line ${first + 1})`);
      }
      seen.set(token, i);
    }
    return token;
  });
  if (vocab.length === 0) throw fileError(file, 'contains no tokens');
  return vocab;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

function bool(v: unknown, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : fallback;
}

type NormalizerFlagName = 'cleanText' | 'handleChineseChars' | 'stripAccents' | 'lowercase';

type NormalizerFlags = Omit<Pick<NativeTokenizerSpec, NormalizerFlagName>, 'stripAccents'> & {
  /** null: the same as lowercase (resolved last, after tokenizer_config.json). */
  stripAccents: boolean | null;
};

/** The spec while the files are read: the normalizer flags still apart, stripAccents unresolved. */
type Draft = Omit<TokenizerSpec, NormalizerFlagName> & { flags: NormalizerFlags };

/**
 * A tokenizer.json pipeline for the native side (native/tokenizer/tokenizer.h): the components'
 * settings as the file gives them, the model's without its tables; Unigram's piece scores and
 * BPE's merges (left, right, left, right, ...) apart.
 */
export interface PipelineSpec {
  normalizer: unknown;
  preTokenizer: unknown;
  model: Record<string, unknown>;
  postProcessor: unknown;
  scores?: Float64Array;
  merges?: string[];
}

/** What the native Tokenizer is built from: the BERT spec, or (pipeline set) a tokenizer.json pipeline. */
export type TokenizerSpec = NativeTokenizerSpec;

function specialCandidates(tokens: Array<[string, string]>, vocab: string[]): AddedTokenSpec[] {
  const ids = new Map<string, number>();
  vocab.forEach((t, i) => {
    if (t !== '' && !ids.has(t)) ids.set(t, i);
  });
  const out: AddedTokenSpec[] = [];
  for (const [, content] of tokens) {
    const id = ids.get(content);
    if (id === undefined || out.some((t) => t.content === content)) continue;
    out.push({ content, id, special: true, normalized: false, singleWord: false, lstrip: false, rstrip: false });
  }
  return out;
}

/**
 * Reads a `model.vocab` object ({ token: id }) into vocab[id] = token. Object.keys and a lookup,
 * not Object.entries: on a vocabulary of millions of tokens the entry arrays cost seconds of the
 * JS thread.
 */
function vocabFromTable(file: string, table: Record<string, unknown>): string[] {
  const tokens = Object.keys(table);
  // Ids index an array: as for added tokens (native/tokenizer/tokenizer.cc), an id far beyond
  // the number of tokens is refused rather than allocated (an id near 2^31 would exhaust memory).
  const idLimit = tokens.length + ID_SLACK;
  let size = 0;
  for (const token of tokens) {
    const id = table[token];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw fileError(file, `model.vocab[${JSON.stringify(token)}] must be a non-negative integer id`);
    }
    if (id >= idLimit) {
      throw fileError(file, `model.vocab[${JSON.stringify(token)}] has id ${id}, far beyond the vocabulary's ${tokens.length} tokens`);
    }
    size = Math.max(size, id + 1);
  }
  if (tokens.length === 0) throw fileError(file, 'model.vocab is empty');
  const vocab = new Array<string>(size).fill('');
  const owner = new Array<string | undefined>(size);
  for (const token of tokens) {
    const id = table[token] as number;
    if (owner[id] !== undefined) {
      throw fileError(file, `model.vocab: tokens ${JSON.stringify(owner[id])} and ${JSON.stringify(token)} share id ${id}`);
    }
    owner[id] = token;
    vocab[id] = token;
  }
  return vocab;
}

/** Unigram's `model.vocab`: [[piece, score], ...], id = index. */
function unigramVocab(file: string, list: unknown): { vocab: string[]; scores: Float64Array } {
  if (!Array.isArray(list) || list.length === 0) throw fileError(file, 'model.vocab must be a non-empty array of [piece, score]');
  const vocab = new Array<string>(list.length);
  const scores = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
      throw fileError(file, `model.vocab[${i}] must be [piece, score]`);
    }
    vocab[i] = entry[0];
    scores[i] = entry[1];
  }
  return { vocab, scores };
}

/** BPE's `model.merges`: "left right" strings (older files) or [left, right] pairs, flattened. */
function bpeMerges(file: string, list: unknown): string[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw fileError(file, 'model.merges must be an array');
  const out = new Array<string>(2 * list.length);
  for (let i = 0; i < list.length; i++) {
    const m: unknown = list[i];
    let pair: unknown[] | undefined;
    if (typeof m === 'string') pair = m.split(' ');
    else if (Array.isArray(m)) pair = m;
    if (!pair || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw fileError(file, `model.merges[${i}] must be "left right" or [left, right]`);
    }
    out[2 * i] = pair[0];
    out[2 * i + 1] = pair[1];
  }
  return out;
}

function typeOf(component: unknown): string {
  return JSON.stringify(isObject(component) ? component.type : component);
}

/**
 * [CLS]/[SEP] when the post-processor is BERT's own template (BertProcessing, or
 * TemplateProcessing "[CLS]:0 $A:0 [SEP]:0" / "[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1" with
 * one-token specials); undefined for any other post-processor.
 */
function bertSpecials(post: unknown, idOf: (token: string) => number): { cls: string; sep: string } | undefined {
  // The plain BERT spec names its special tokens and resolves their ids itself (added tokens,
  // then the vocabulary), so a file whose template gives other ids takes the pipeline path, which
  // emits the template's ids as tokenizers does.
  if (isObject(post) && post.type === 'BertProcessing') {
    const cls = Array.isArray(post.cls) && typeof post.cls[0] === 'string' ? post.cls[0] : '[CLS]';
    const sep = Array.isArray(post.sep) && typeof post.sep[0] === 'string' ? post.sep[0] : '[SEP]';
    const sameIds = Array.isArray(post.cls) && post.cls[1] === idOf(cls) && Array.isArray(post.sep) && post.sep[1] === idOf(sep);
    return sameIds ? { cls, sep } : undefined;
  }
  if (!(isObject(post) && post.type === 'TemplateProcessing')) return undefined;
  const specials = isObject(post.special_tokens) ? post.special_tokens : {};
  const describe = (pieces: unknown): string | undefined => {
    if (!Array.isArray(pieces)) return undefined;
    const parts: string[] = [];
    for (const piece of pieces) {
      if (isObject(piece) && isObject(piece.Sequence)) {
        parts.push(`$${String(piece.Sequence.id)}:${String(piece.Sequence.type_id ?? 0)}`);
      } else if (isObject(piece) && isObject(piece.SpecialToken) && typeof piece.SpecialToken.id === 'string') {
        const entry = specials[piece.SpecialToken.id];
        if (!isObject(entry) || !Array.isArray(entry.tokens) || entry.tokens.length !== 1 || typeof entry.tokens[0] !== 'string') return undefined;
        if (!Array.isArray(entry.ids) || entry.ids.length !== 1 || entry.ids[0] !== idOf(entry.tokens[0])) return undefined;
        parts.push(`${entry.tokens[0]}:${String(piece.SpecialToken.type_id ?? 0)}`);
      } else {
        return undefined;
      }
    }
    return parts.join(' ');
  };
  const single = describe(post.single);
  const pair = describe(post.pair);
  const m = single === undefined ? null : /^(\S+):0 \$A:0 (\S+):0$/.exec(single);
  if (!m || pair !== `${m[1]}:0 $A:0 ${m[2]}:0 $B:1 ${m[2]}:1`) return undefined;
  return { cls: m[1], sep: m[2] };
}

/** A padding token when no config names one: tokenizer.json's padding block, else [PAD] or <pad> if present. */
function defaultPadToken(json: Record<string, unknown>, vocab: string[], added: AddedTokenSpec[]): string {
  if (isObject(json.padding) && typeof json.padding.pad_token === 'string') return json.padding.pad_token;
  const known = (t: string) => added.some((a) => a.content === t) || vocab.includes(t);
  return ['[PAD]', '<pad>'].find(known) ?? '[PAD]';
}

/**
 * The ids `tokenizers` gives a tokenizer.json's added tokens, whatever ids the file writes (it
 * only warns when they disagree): a token the model's vocabulary holds, or one listed earlier,
 * keeps that id; each other one, in the order listed, takes the next id from the vocabulary's
 * size (its number of tokens) on. `vocab` is the WordPiece/BPE table ({ token: id }) or the
 * Unigram pieces in id order (a piece listed twice answers with its last id, as there).
 */
function addedTokenIds(vocab: Record<string, unknown> | string[]): (content: string) => number {
  let size: number;
  let modelId: (content: string) => number | undefined;
  if (Array.isArray(vocab)) {
    size = vocab.length;
    let ids: Map<string, number> | undefined;
    modelId = (content) => {
      if (!ids) {
        ids = new Map();
        vocab.forEach((piece, id) => ids!.set(piece, id));
      }
      return ids.get(content);
    };
  } else {
    size = Object.keys(vocab).length;
    modelId = (content) => (Object.hasOwn(vocab, content) ? (vocab[content] as number) : undefined);
  }
  const assigned = new Map<string, number>();
  let next = size;
  return (content) => {
    let id = assigned.get(content) ?? modelId(content);
    if (id === undefined) id = next++;
    assigned.set(content, id);
    return id;
  };
}

/**
 * Reads tokenizer.json. A BERT WordPiece file (BertNormalizer or none, BertPreTokenizer,
 * WordPiece, BERT's template) becomes the plain BERT spec; any other combination of supported
 * components (docs/TOKENIZER.md lists them) becomes a pipeline the native side builds stage by
 * stage, and refuses, naming it, a component it does not support.
 */
export function readTokenizerJson(file: string): Draft {
  const json = readJson(file);
  const model = json.model;
  if (!isObject(model)) throw fileError(file, `model must be an object (got ${typeof model})`);
  const type = model.type ?? (isObject(model.vocab) && model.merges === undefined ? 'WordPiece' : undefined);
  let vocab: string[];
  let scores: Float64Array | undefined;
  let merges: string[] | undefined;
  if (type === 'WordPiece' || type === 'BPE') {
    if (!isObject(model.vocab)) throw fileError(file, `model.vocab of a ${type} model must be an object of token ids`);
    vocab = vocabFromTable(file, model.vocab);
    if (type === 'BPE') merges = bpeMerges(file, model.merges);
  } else if (type === 'Unigram') {
    ({ vocab, scores } = unigramVocab(file, model.vocab));
  } else {
    throw fileError(file, `model ${JSON.stringify(type)} is not supported (supported: WordPiece, Unigram, BPE)`);
  }

  // By id: tokenizers keeps one added token per id, the last one given it. A token whose id a
  // later one takes (a new id that is also a vocabulary id, where the vocabulary has gaps) is no
  // longer matched in text.
  const byId = new Map<number, AddedTokenSpec>();
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw fileError(file, 'added_tokens must be an array');
  const addedId = addedTokenIds(type === 'Unigram' ? vocab : (model.vocab as Record<string, unknown>));
  added.forEach((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw fileError(file, `added_tokens[${i}] must have a string "content" and an integer "id"`);
    }
    if (t.content === '') return; // tokenizers skips an empty added token
    const id = addedId(t.content);
    byId.set(id, {
      content: t.content,
      id,
      special: bool(t.special, false),
      normalized: bool(t.normalized, !bool(t.special, false)),
      singleWord: bool(t.single_word, false),
      lstrip: bool(t.lstrip, false),
      rstrip: bool(t.rstrip, false),
    });
  });
  const addedTokens = [...byId.values()];

  const flags: NormalizerFlags = { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true };
  const normalizer = json.normalizer ?? null;
  const pre = json.pre_tokenizer ?? null;
  const post = json.post_processor ?? null;
  const idOf = (token: string) => addedTokens.find((a) => a.content === token)?.id ?? vocab.indexOf(token);
  const bert = type === 'WordPiece' ? bertSpecials(post, idOf) : undefined;
  const plainBert = bert !== undefined && (normalizer === null || (isObject(normalizer) && normalizer.type === 'BertNormalizer')) &&
    isObject(pre) && pre.type === 'BertPreTokenizer';
  const maxChars = model.max_input_chars_per_word ?? 100;
  if (type === 'WordPiece' && (typeof maxChars !== 'number' || !Number.isInteger(maxChars) || maxChars < 0)) {
    throw fileError(file, 'model.max_input_chars_per_word must be a non-negative integer');
  }
  const draft: Draft = {
    vocab,
    flags,
    unkToken: typeof model.unk_token === 'string' ? model.unk_token : '[UNK]',
    clsToken: bert?.cls ?? '[CLS]',
    sepToken: bert?.sep ?? '[SEP]',
    padToken: defaultPadToken(json, vocab, addedTokens),
    continuingSubwordPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
    // tokenizers reads a usize; any value past a safe integer means no limit, as does the
    // native side's cap (native/tokenizer/models/wordpiece.cc).
    maxInputCharsPerWord: typeof maxChars === 'number' ? Math.min(maxChars, Number.MAX_SAFE_INTEGER) : 100,
    addedTokens,
  };
  if (plainBert) {
    if (normalizer === null) {
      flags.cleanText = flags.handleChineseChars = flags.lowercase = false;
      flags.stripAccents = false;
    } else if (isObject(normalizer)) {
      flags.cleanText = bool(normalizer.clean_text, true);
      flags.handleChineseChars = bool(normalizer.handle_chinese_chars, true);
      flags.lowercase = bool(normalizer.lowercase, true);
      flags.stripAccents = typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : null;
    }
    return draft;
  }
  // The model's settings travel without its tables (vocab, scores, merges go apart).
  const { vocab: _vocab, merges: _merges, ...settings } = model;
  draft.pipeline = { normalizer, preTokenizer: pre, model: { ...settings, type }, postProcessor: post, scores, merges };
  for (const [what, component] of [['normalizer', normalizer], ['pre_tokenizer', pre], ['post_processor', post]] as const) {
    if (component !== null && !isObject(component)) throw fileError(file, `${what} must be an object or null (got ${typeOf(component)})`);
  }
  return draft;
}

/** Reads vocab.txt with BERT uncased defaults; special tokens become special added tokens. */
export function readVocabFile(file: string): Draft {
  const vocab = parseVocabTxt(readText(file), file);
  const names: Array<[string, string]> = [
    ['pad', '[PAD]'], ['unk', '[UNK]'], ['cls', '[CLS]'], ['sep', '[SEP]'], ['mask', '[MASK]'],
  ];
  return {
    vocab,
    flags: { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true },
    unkToken: '[UNK]',
    clsToken: '[CLS]',
    sepToken: '[SEP]',
    padToken: '[PAD]',
    continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100,
    addedTokens: specialCandidates(names, vocab),
  };
}

/**
 * Applies tokenizer_config.json (and special_tokens_map.json) from `dir`: their keys win over
 * tokenizer.json, as in transformers (`do_lower_case`, `strip_accents`, `tokenize_chinese_chars`,
 * special token names). Returns model_max_length when it is a real limit.
 */
function applyConfig(p: Draft, dir: string, sources: string[], fromVocabTxt: boolean): number | undefined {
  const configFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  const config = exists(configFile) ? readJson(configFile) : undefined;
  const map = exists(mapFile) ? readJson(mapFile) : undefined;
  if (config) sources.push(configFile);
  if (map) sources.push(mapFile);
  const names: Array<[string, string]> = [];
  const pick = (key: string): string | undefined => tokenContent(config?.[key]) ?? tokenContent(map?.[key]);
  const special: Record<string, string | undefined> = {
    unk: pick('unk_token'), cls: pick('cls_token'), sep: pick('sep_token'), pad: pick('pad_token'), mask: pick('mask_token'),
  };
  if (special.unk) p.unkToken = special.unk;
  if (special.cls) p.clsToken = special.cls;
  if (special.sep) p.sepToken = special.sep;
  if (special.pad) p.padToken = special.pad;
  for (const [k, v] of Object.entries(special)) if (v) names.push([k, v]);
  if (config) {
    if (config.do_lower_case !== undefined) {
      if (typeof config.do_lower_case !== 'boolean') throw fileError(configFile, '"do_lower_case" must be a boolean');
      p.flags.lowercase = config.do_lower_case;
    }
    if (config.strip_accents !== undefined) {
      if (config.strip_accents !== null && typeof config.strip_accents !== 'boolean') {
        throw fileError(configFile, '"strip_accents" must be a boolean or null');
      }
      p.flags.stripAccents = config.strip_accents;
    }
    if (config.tokenize_chinese_chars !== undefined) {
      if (typeof config.tokenize_chinese_chars !== 'boolean') throw fileError(configFile, '"tokenize_chinese_chars" must be a boolean');
      p.flags.handleChineseChars = config.tokenize_chinese_chars;
    }
    // transformers >= 4.34 lists the added tokens with their ids and matching flags.
    if (fromVocabTxt && isObject(config.added_tokens_decoder)) {
      p.addedTokens = [];
      for (const [idText, t] of Object.entries(config.added_tokens_decoder)) {
        const id = Number(idText);
        if (!Number.isInteger(id) || id < 0 || !isObject(t) || typeof t.content !== 'string') {
          throw fileError(configFile, `added_tokens_decoder[${JSON.stringify(idText)}] is malformed`);
        }
        p.addedTokens.push({
          content: t.content, id, special: bool(t.special, false), normalized: bool(t.normalized, !bool(t.special, false)),
          singleWord: bool(t.single_word, false), lstrip: bool(t.lstrip, false), rstrip: bool(t.rstrip, false),
        });
      }
    }
  }
  if (fromVocabTxt && !(config && isObject(config.added_tokens_decoder))) {
    p.addedTokens = specialCandidates(names.length ? names : [['unk', p.unkToken], ['cls', p.clsToken], ['sep', p.sepToken], ['pad', p.padToken], ['mask', '[MASK]']], p.vocab);
  }
  const max = config?.model_max_length;
  return typeof max === 'number' && Number.isInteger(max) && max > 0 && max < NO_LIMIT ? max : undefined;
}

function finish(p: Draft): TokenizerSpec {
  return {
    pipeline: p.pipeline,
    vocab: p.vocab,
    cleanText: p.flags.cleanText,
    handleChineseChars: p.flags.handleChineseChars,
    stripAccents: p.flags.stripAccents ?? p.flags.lowercase,
    lowercase: p.flags.lowercase,
    unkToken: p.unkToken,
    clsToken: p.clsToken,
    sepToken: p.sepToken,
    padToken: p.padToken,
    continuingSubwordPrefix: p.continuingSubwordPrefix,
    maxInputCharsPerWord: p.maxInputCharsPerWord,
    addedTokens: p.addedTokens,
  };
}

function isVocabTxt(file: string): boolean {
  return path.extname(file).toLowerCase() === '.txt';
}

/** One file: tokenizer.json or vocab.txt (by extension); no config files are read. */
export function readTokenizerFile(file: string): TokenizerFiles {
  const p = isVocabTxt(file) ? readVocabFile(file) : readTokenizerJson(file);
  return { spec: finish(p), sources: [file] };
}

/** A model directory: tokenizer.json if present, else vocab.txt; then tokenizer_config.json. */
export function readTokenizerDir(dir: string): TokenizerFiles {
  const json = path.join(dir, 'tokenizer.json');
  const txt = path.join(dir, 'vocab.txt');
  let file: string;
  if (exists(json)) file = json;
  else if (exists(txt)) file = txt;
  else throw new TceError('TCE_TOKENIZER_FILE', `${dir}: no tokenizer.json or vocab.txt in this directory`);
  const fromTxt = file === txt;
  const p = fromTxt ? readVocabFile(file) : readTokenizerJson(file);
  const sources = [file];
  const modelMaxLength = applyConfig(p, dir, sources, fromTxt);
  return { spec: finish(p), modelMaxLength, sources };
}
