/**
 * Reads a BERT WordPiece tokenizer from Hugging Face files: `tokenizer.json`, or `vocab.txt`,
 * plus `tokenizer_config.json` / `special_tokens_map.json` when present. The result is the spec
 * the native tokenizer is built from. Nothing here hard-codes token ids: they come from the files.
 */
import path from 'node:path';
import { TceError } from './errors';
import { fileKind, readJsonObject, readText as readTextFile } from './files';
import type { NativeTokenizerSpec } from './native';

type AddedTokenSpec = NativeTokenizerSpec['addedTokens'][number];

export interface TokenizerFiles {
  spec: NativeTokenizerSpec;
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
type Draft = Omit<NativeTokenizerSpec, NormalizerFlagName> & { flags: NormalizerFlags };

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

/** Reads tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece, Template/BertProcessing). */
export function readTokenizerJson(file: string): Draft {
  const json = readJson(file);
  const model = json.model;
  if (!isObject(model) || (model.type !== undefined && model.type !== 'WordPiece') || !isObject(model.vocab)) {
    throw fileError(file, `model must be a WordPiece model with a vocab (got ${isObject(model) ? String(model.type) : typeof model})`);
  }
  // Object.keys and a lookup, not Object.entries: on a vocabulary of millions of tokens the
  // entry arrays cost seconds of the JS thread.
  const table = model.vocab;
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

  const flags: NormalizerFlags = { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true };
  const normalizer = json.normalizer;
  if (normalizer === null || normalizer === undefined) {
    flags.cleanText = flags.handleChineseChars = flags.lowercase = false;
    flags.stripAccents = false;
  } else if (isObject(normalizer) && normalizer.type === 'BertNormalizer') {
    flags.cleanText = bool(normalizer.clean_text, true);
    flags.handleChineseChars = bool(normalizer.handle_chinese_chars, true);
    flags.lowercase = bool(normalizer.lowercase, true);
    flags.stripAccents = typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : null;
  } else {
    throw fileError(file, `normalizer ${JSON.stringify(isObject(normalizer) ? normalizer.type : normalizer)} is not supported (only BertNormalizer)`);
  }
  const pre = json.pre_tokenizer;
  if (!(isObject(pre) && pre.type === 'BertPreTokenizer')) {
    throw fileError(file, `pre_tokenizer ${JSON.stringify(isObject(pre) ? pre.type : pre)} is not supported (only BertPreTokenizer)`);
  }

  let clsToken = '[CLS]';
  let sepToken = '[SEP]';
  const post = json.post_processor;
  if (isObject(post) && post.type === 'BertProcessing') {
    if (Array.isArray(post.cls) && typeof post.cls[0] === 'string') clsToken = post.cls[0];
    if (Array.isArray(post.sep) && typeof post.sep[0] === 'string') sepToken = post.sep[0];
  } else if (isObject(post) && post.type === 'TemplateProcessing') {
    // Single template "[CLS] $A [SEP]": the special token before the sequence is CLS, after it SEP.
    const single = Array.isArray(post.single) ? post.single : [];
    const names = single.map((piece) => (isObject(piece) && isObject(piece.SpecialToken) ? piece.SpecialToken.id : undefined));
    const seqAt = single.findIndex((piece) => isObject(piece) && isObject(piece.Sequence));
    const specials = isObject(post.special_tokens) ? post.special_tokens : {};
    const tokenOf = (name: unknown): string | undefined => {
      if (typeof name !== 'string') return undefined;
      const entry = specials[name];
      return isObject(entry) && Array.isArray(entry.tokens) && typeof entry.tokens[0] === 'string' ? entry.tokens[0] : name;
    };
    if (names.length !== 3 || seqAt !== 1 || tokenOf(names[0]) === undefined || tokenOf(names[2]) === undefined) {
      throw fileError(file, 'post_processor: only the BERT template "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B [SEP]" is supported');
    }
    clsToken = tokenOf(names[0])!;
    sepToken = tokenOf(names[2])!;
  } else if (post !== null && post !== undefined) {
    throw fileError(file, `post_processor ${JSON.stringify(isObject(post) ? post.type : post)} is not supported`);
  }

  const addedTokens: AddedTokenSpec[] = [];
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw fileError(file, 'added_tokens must be an array');
  added.forEach((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw fileError(file, `added_tokens[${i}] must have a string "content" and an integer "id"`);
    }
    addedTokens.push({
      content: t.content,
      id: t.id,
      special: bool(t.special, false),
      normalized: bool(t.normalized, !bool(t.special, false)),
      singleWord: bool(t.single_word, false),
      lstrip: bool(t.lstrip, false),
      rstrip: bool(t.rstrip, false),
    });
  });
  const maxChars = model.max_input_chars_per_word ?? 100;
  if (typeof maxChars !== 'number' || !Number.isInteger(maxChars) || maxChars < 0) {
    throw fileError(file, 'model.max_input_chars_per_word must be a non-negative integer');
  }
  return {
    vocab,
    flags,
    unkToken: typeof model.unk_token === 'string' ? model.unk_token : '[UNK]',
    clsToken,
    sepToken,
    padToken: '[PAD]',
    continuingSubwordPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
    maxInputCharsPerWord: maxChars,
    addedTokens,
  };
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

function finish(p: Draft): NativeTokenizerSpec {
  return {
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
