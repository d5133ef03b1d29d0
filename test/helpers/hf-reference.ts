/**
 * Hugging Face's Rust tokenizer (npm `tokenizers`), configured exactly as transformers'
 * BertTokenizerFast builds it from a vocab.txt: the independent reference for token ids.
 */
import fs from 'node:fs';
import { Tokenizer as HfTokenizer } from 'tokenizers';

export function bertTokenizerJson(vocab: string[], options: { lowercase?: boolean; stripAccents?: boolean | null } = {}): string {
  const id = (token: string) => {
    const index = vocab.indexOf(token);
    if (index < 0) throw new Error(`vocab has no ${token}`);
    return index;
  };
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => vocab.includes(t));
  const template = (withPair: boolean) => [
    { SpecialToken: { id: '[CLS]', type_id: 0 } },
    { Sequence: { id: 'A', type_id: 0 } },
    { SpecialToken: { id: '[SEP]', type_id: 0 } },
    ...(withPair ? [{ Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }] : []),
  ];
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: options.stripAccents ?? null,
      lowercase: options.lowercase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: template(false),
      pair: template(true),
      special_tokens: Object.fromEntries(['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((token, index) => [token, index])),
    },
  });
}

export function hfTokenizerFromVocab(vocabPath: string): HfTokenizer {
  const vocab = fs.readFileSync(vocabPath, 'utf8').split('\n');
  if (vocab[vocab.length - 1] === '') vocab.pop();
  return HfTokenizer.fromString(bertTokenizerJson(vocab));
}
