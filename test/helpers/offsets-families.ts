/**
 * The tokenizers the offsets parity runs on: BERT WordPiece (vocab.txt and tokenizer.json with each
 * BertNormalizer setting), the family files of scripts/make-family-fixtures.py (XLM-R, DeBERTa-v3,
 * ModernBERT, Qwen2, Llama-3, as transformers 5 and 4.51 convert them) and edits of them that real
 * files use or that put every normalizer, pre-tokenizer and post-processor on the path (the ids
 * parity's own list: family-variants.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as hf from 'tokenizers';
import { Tokenizer } from '../../lib/tokenizer';
import { VOCABS, bertTokenizerJson, familyTokenizers, hfFromJson, readVocab, tempDir, type NormalizerFlags } from './hf-reference';
import { FAMILY_VARIANTS, writeVariant } from './family-variants';

export interface OffsetsFamily {
  name: string;
  ours: () => Tokenizer;
  /** A fresh reference instance each call (truncation is set per instance). */
  ref: () => hf.Tokenizer;
}

const scratch = tempDir('tce-tok-offsets-');

function bert(vocabName: keyof typeof VOCABS, flags: NormalizerFlags): OffsetsFamily {
  const json = bertTokenizerJson(readVocab(VOCABS[vocabName]), flags);
  const file = path.join(scratch, `bert-${vocabName}-${Object.entries(flags).map(([k, v]) => `${k}-${v}`).join('-') || 'default'}`, 'tokenizer.json');
  return {
    name: `BERT ${vocabName} tokenizer.json ${JSON.stringify(flags)}`,
    ours: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(json));
      return Tokenizer.fromFile(file);
    },
    ref: () => hfFromJson(json),
  };
}

export function bertFamilies(): OffsetsFamily[] {
  return [
    {
      name: 'BERT biomedbert vocab.txt (uncased defaults)',
      ours: () => Tokenizer.fromFile(VOCABS.biomedbert),
      ref: () => hfFromJson(bertTokenizerJson(readVocab(VOCABS.biomedbert))),
    },
    bert('bert-base-uncased', {}),
    bert('biomedbert', { lowercase: false }),
    bert('biomedbert', { stripAccents: false }),
    bert('biomedbert', { lowercase: false, stripAccents: true }),
    bert('bert-base-uncased', { cleanText: false, handleChineseChars: false }),
  ];
}

/** The family files and their variants, or the reason they are missing. */
export function convertedFamilies(env: 'st6' | 'st41'): OffsetsFamily[] | { skip: string } {
  const built = familyTokenizers(env);
  if ('skip' in built) return built;
  const label = env === 'st6' ? 'transformers 5' : 'transformers 4.51';
  const json = (f: string) => path.join(built.dir, f, 'tokenizer.json');
  const out: OffsetsFamily[] = ['xlmr', 'deberta-v3', 'modernbert', 'qwen2', 'llama3'].map((f) => ({
    name: `${f} (${label})`,
    ours: () => Tokenizer.fromModelDir(path.join(built.dir, f)),
    ref: () => hf.Tokenizer.fromFile(json(f)),
  }));
  if (env !== 'st41') return out;
  for (const v of FAMILY_VARIANTS) {
    const file = () => writeVariant(v, built.dir, scratch);
    out.push({
      name: v.name,
      ours: () => (v.withConfig ? Tokenizer.fromModelDir(path.dirname(file())) : Tokenizer.fromFile(file())),
      ref: () => hf.Tokenizer.fromFile(file()),
    });
  }
  return out;
}
