// The tokenizer.json transformers' BertTokenizerFast saves for a WordPiece vocab: how tests and
// benchmarks configure Hugging Face's `tokenizers` (npm) as the reference for ours.
import fs from 'node:fs';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

/** vocab.txt lines (id = line index; a trailing newline adds no token). */
export function readVocab(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * @param {string[]} vocab
 * @param {{ cleanText?: boolean, handleChineseChars?: boolean, stripAccents?: boolean | null, lowercase?: boolean }} [flags]
 * @returns {Record<string, unknown>}
 */
export function bertTokenizerJson(vocab, flags = {}) {
  const ids = {};
  vocab.forEach((t, i) => {
    ids[t] = i;
  });
  const id = (t) => {
    const v = ids[t];
    if (v === undefined) throw new Error(`${t} not in vocab`);
    return v;
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content) => ({
      id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: flags.cleanText ?? true,
      handle_chinese_chars: flags.handleChineseChars ?? true,
      strip_accents: flags.stripAccents ?? null,
      lowercase: flags.lowercase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: ids },
  };
}
