/**
 * Hugging Face `tokenizers` (npm) as the reference for token offsets, word ids, sequence ids and
 * the special-tokens mask, in the units our Tokenizer reports them.
 *
 * The npm package's Encoding.getOffsets() counts Unicode code points (checked on 'café 😀':
 * 'é' spans one unit, not two bytes; '😀' one unit, not two UTF-16 code units). Our offsets are
 * UTF-16 code units of the JS string (String.prototype.slice), so the reference is converted here;
 * TEI's /tokenize reports UTF-8 bytes, the other conversion here.
 */
import * as hf from 'tokenizers';

/** What the comparisons look at, per token (offsets flattened: start, end, start, end, ...). */
export interface OffsetsRef {
  ids: number[];
  /** tokenizers' token strings (an unknown piece shows its text, not <unk>): for messages only. */
  tokens: string[];
  offsets: number[];
  wordIds: number[];
  sequenceIds: number[];
  specialTokensMask: number[];
}

/**
 * For each code point index 0..n of `text`, the index of that code point in another unit, where
 * `width(cp)` says how many units code point `cp` takes. A lone surrogate is one code point
 * (tokenizers receives it as U+FFFD).
 */
function codePointTable(text: string, width: (cp: number) => number): Uint32Array {
  const table: number[] = [0];
  let at = 0;
  for (const ch of text) {
    at += width(ch.codePointAt(0)!);
    table.push(at);
  }
  return Uint32Array.from(table);
}

/** Code point index -> UTF-16 code unit index. */
export function codePointsToUtf16(text: string): Uint32Array {
  return codePointTable(text, (cp) => (cp > 0xffff ? 2 : 1));
}

/** Code point index -> UTF-8 byte index (a lone surrogate is U+FFFD, 3 bytes, as Buffer writes it). */
export function codePointsToUtf8(text: string): Uint32Array {
  return codePointTable(text, (cp) => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4));
}

const NONE = -1;

/**
 * One tokenizers Encoding as OffsetsRef: offsets converted from code points to units of the text
 * of each token's own sequence (`texts[0]` or `texts[1]`), None as -1.
 */
export function offsetsRef(
  e: hf.Encoding,
  texts: readonly [string, string | null],
  toUnits: (text: string) => Uint32Array = codePointsToUtf16,
  sequenceIds: number[] = e.getSequenceIds().map((s) => (s === null || s === undefined ? NONE : s)),
): OffsetsRef {
  const tables = texts.map((t) => (t === null ? null : toUnits(t)));
  const offsets: number[] = [];
  e.getOffsets().forEach(([start, end], i) => {
    const seq = sequenceIds[i]!;
    if (seq === NONE) {
      offsets.push(start, end); // the post-processor's specials: (0, 0)
      return;
    }
    const table = tables[seq];
    if (!table || end >= table.length) throw new Error(`reference offsets (${start}, ${end}) of token ${i} are outside sequence ${seq}`);
    offsets.push(table[start]!, table[end]!);
  });
  return {
    ids: e.getIds(),
    tokens: e.getTokens(),
    offsets,
    wordIds: e.getWordIds().map((w) => (w === null || w === undefined ? NONE : w)),
    sequenceIds,
    specialTokensMask: e.getSpecialTokensMask(),
  };
}

/** Single texts, with tokenizers' own truncation (maxLength 0 = none). */
export async function refSingles(h: hf.Tokenizer, texts: string[], maxLength: number, addSpecialTokens = true): Promise<OffsetsRef[]> {
  if (maxLength > 0) h.setTruncation(maxLength);
  else h.disableTruncation();
  try {
    const encoded = await h.encodeBatch(texts, { addSpecialTokens });
    return encoded.map((e, i) => offsetsRef(e, [texts[i]!, null]));
  } finally {
    h.disableTruncation();
  }
}

/**
 * `h` with a post-processor that adds nothing and trims nothing, for encoding the segments of a
 * pair that postProcess then joins: the real post-processor must run once (ByteLevel's and
 * RobertaProcessing's trim_offsets run even without special tokens, and twice would trim twice).
 */
export function segmentEncoder(h: hf.Tokenizer): hf.Tokenizer {
  h.setPostProcessor(hf.templateProcessing('$A', '$A $B'));
  return h;
}

/**
 * Pairs, truncated longest_first after encoding each segment in full (our semantics; see hfPairs
 * in hf-reference.ts for tokenizers 0.23's early exit, which only changes which segment loses
 * the odd token when both are long). `trunc` carries the truncation; `segments` is a
 * segmentEncoder() of the same tokenizer.
 *
 * tokenizers' own encode(a, b) is the reference wherever its ids are those of longest_first on the
 * full segments (every pair but the few the early exit changes). For those few, postProcess on the
 * separately encoded segments gives the tokens; its sequence ids are not usable as they come (each
 * segment went through a post-processor once already, as sequence 0, and the merge keeps the
 * second one's range for sequence 0), so they are rebuilt from what the template does: the second
 * segment's tokens 1, the template's specials none, the rest 0. `rebuilt` counts those pairs.
 */
export async function refPairs(
  segments: hf.Tokenizer,
  trunc: hf.Tokenizer,
  pairs: Array<[string, string]>,
  maxLength: number,
  addSpecialTokens = true,
): Promise<OffsetsRef[] & { rebuilt: number }> {
  segments.disableTruncation();
  if (maxLength > 0) trunc.setTruncation(maxLength);
  else trunc.disableTruncation();
  try {
    // (npm's encodeBatch takes single texts only.)
    const direct = await Promise.all(pairs.map((p) => trunc.encode(p[0], p[1], { addSpecialTokens })));
    // Without truncation there is no early exit: encode(a, b) is the reference as it stands.
    if (maxLength === 0) return Object.assign(direct.map((e, i) => offsetsRef(e, pairs[i]!)), { rebuilt: 0 });
    // Only a pair that was cut can be one the early exit changed.
    const cut = pairs.map((_, i) => i).filter((i) => direct[i]!.getLength() >= maxLength);
    const as = await segments.encodeBatch(cut.map((i) => pairs[i]![0]), { addSpecialTokens: false });
    const bs = await segments.encodeBatch(cut.map((i) => pairs[i]![1]), { addSpecialTokens: false });
    const out = pairs.map((p, i) => offsetsRef(direct[i]!, p));
    let rebuilt = 0;
    cut.forEach((i, k) => {
      const processed = trunc.postProcess(as[k]!, bs[k]!, addSpecialTokens);
      if (processed.getIds().join() === out[i]!.ids.join()) return;
      rebuilt++;
      out[i] = rebuiltRef(processed, pairs[i]!);
    });
    return Object.assign(out, { rebuilt });
  } finally {
    trunc.disableTruncation();
  }
}

/** A postProcess result with the sequence ids the template gives (see refPairs). */
export function rebuiltRef(processed: hf.Encoding, pair: [string, string]): OffsetsRef {
  const mask = processed.getSpecialTokensMask();
  const sequenceIds = processed.getSequenceIds().map((s, k) => (s === 1 ? 1 : mask[k] === 1 ? NONE : 0));
  return offsetsRef(processed, pair, codePointsToUtf16, sequenceIds);
}

/** What our Encoding holds, in the same shape (undefined arrays stay visible as missing). */
export interface OursOffsets {
  ids: ArrayLike<number>;
  offsets?: ArrayLike<number>;
  wordIds?: ArrayLike<number>;
  sequenceIds?: ArrayLike<number>;
  specialTokensMask?: ArrayLike<number>;
}

const FIELDS = ['ids', 'offsets', 'wordIds', 'sequenceIds', 'specialTokensMask'] as const;

/** The first difference between ours and the reference, or null when they agree on every field. */
export function firstDifference(ours: OursOffsets, ref: OffsetsRef): { field: string; token: number; ours: string; ref: string } | null {
  for (const field of FIELDS) {
    const a = ours[field];
    const b = ref[field];
    if (a === undefined) return { field, token: -1, ours: 'undefined', ref: `${b.length} values` };
    const width = field === 'offsets' ? 2 : 1;
    const n = Math.max(a.length, b.length);
    for (let k = 0; k < n; k++) {
      if (a[k] !== b[k]) {
        const token = Math.floor(k / width);
        const show = (x: ArrayLike<number>) => (width === 2 ? `[${x[2 * token]}, ${x[2 * token + 1]})` : String(x[token]));
        return { field, token, ours: k < a.length ? show(a) : 'missing', ref: k < b.length ? show(b) : 'missing' };
      }
    }
  }
  return null;
}
