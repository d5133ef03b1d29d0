// Long documents (docs/LONG-DOCUMENTS.md): longDocuments 'max' | 'mean' | 'first' against an
// independent Python reference (test/helpers/long_doc_reference.py: windows from Hugging Face's
// tokenizer offsets on the same saved model, every window scored by sentence-transformers'
// CrossEncoder, then aggregated), on BioASQ questions against real PubMed abstracts longer than
// the window. Also: documents that fit score exactly as 'truncate'; windows cover every token with
// the overlaps asked for; progress and cancellation count documents; option errors. Runs on both
// libtorches (the saves are exported for libtorch 1.13 with --target-libtorch 1.13).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { Tokenizer } from '../lib/tokenizer';
import { DEFAULT_WINDOW_TOKENS, planWindows, type Span } from '../lib/long-documents';
const plannedSpans = async (...args: Parameters<typeof planWindows>): Promise<Span[][]> => (await planWindows(...args)).windows;
import { projectPython } from '../scripts/torch-python.mjs';
import { repoRoot } from './helpers/child';
import { bioasqPairs, modelTestsSkipReason } from './helpers/fixture-model';
import { familyTokenizers, multilingualTexts } from './helpers/hf-reference';
import { stModel, stSkipReason } from './helpers/st-reference';

/** fp32 on the CPU: the same arithmetic in another order (batching, padding, MKL). */
const FP32_BOUND = 1e-5;
/** A pair scored in another batch (other pairs, other padding) than the same pair under 'truncate'. */
const SAME_PAIR_BOUND = 1e-6;
/** Small enough that BioASQ questions against PubMed abstracts take several windows. */
const MAX_LENGTH = 64;
const torch2 = process.env.TCE_TEST_LIBTORCH === 'torch-2.13';
const referenceScript = path.join(repoRoot, 'test', 'helpers', 'long_doc_reference.py');

const abstracts = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { text: string }).text);
const questions = bioasqPairs(40).map(([q]) => q);
/** Question i against three long abstracts and one of its own gold snippets (short). */
function items(count: number): Array<[string, string]> {
  const short = bioasqPairs(count);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    out.push([questions[i]!, abstracts[3 * i]!], [questions[i]!, abstracts[3 * i + 1]!], [questions[i]!, short[i]![1]]);
    out.push([questions[i]!, `${abstracts[3 * i + 2]}\n\n  ${abstracts[3 * i + 3]}  `]);
  }
  return out;
}

interface ReferenceRequest {
  model: string;
  max_length: number;
  window_tokens: number;
  mode: 'max' | 'mean' | 'first';
  stride: number | null;
  items: Array<[string, string]>;
  windows?: Array<Array<[number, number]>>;
}
interface ReferenceResult {
  windows: Array<Array<[number, number]>>;
  token_ranges: Array<Array<[number, number]> | null>;
  doc_tokens: Array<number | null>;
  scores: Array<number | number[]>;
}

function reference(requests: ReferenceRequest[]): ReferenceResult[] {
  const dir = path.join(repoRoot, 'test', 'fixtures', 'models');
  const file = path.join(dir, `long-doc-requests-${process.pid}-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(requests));
  try {
    const r = spawnSync(projectPython('st6')!, [referenceScript, '--requests', file, '--out', `${file}.out`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`long_doc_reference.py failed:\n${r.stderr.slice(-4000)}`);
    return (JSON.parse(fs.readFileSync(`${file}.out`, 'utf8')) as { results: ReferenceResult[] }).results;
  } finally {
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.out`, { force: true });
  }
}

/** The sentence-transformers save and its export for this libtorch. */
function model(name: 'one' | 'three', numLabels: number): { st: string; tce: string } {
  const built = stModel('st6', name, { numLabels });
  if (torch2) return built;
  const tce = path.join(repoRoot, 'test', 'fixtures', 'models', `long-docs-${name}-libtorch-1.13`);
  const stamp = path.join(tce, '.built-from');
  const exporter = path.join(repoRoot, 'scripts', 'export.py');
  const want = JSON.stringify({ st: fs.statSync(path.join(built.st, 'model.safetensors')).mtimeMs, export: fs.statSync(exporter).mtimeMs });
  if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want)) {
    const r = spawnSync(projectPython('st6')!, [exporter, built.st, tce, '--target-libtorch', '1.13'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`export.py --target-libtorch 1.13 failed:\n${r.stderr.slice(-4000)}`);
    fs.writeFileSync(stamp, want);
  }
  return { st: built.st, tce };
}

function worst(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let w = 0;
  for (let i = 0; i < expected.length; i++) w = Math.max(w, Math.abs(actual[i]! - expected[i]!));
  return w;
}

const spans = (windows: Span[][]) => windows.map((ws) => ws.map((w): [number, number] => [w.start, w.end]));

const reason = stSkipReason('st6') ?? modelTestsSkipReason();
describe.skipIf(reason)(`long documents (CPU${reason ? `; skipped: ${reason}` : ''})`, () => {
  const input = items(6);
  const loaded: CrossEncoder[] = [];
  let one: { st: string; tce: string };
  let three: { st: string; tce: string };
  let ce: CrossEncoder<false>;
  let ce3: CrossEncoder<true>;
  const requests: ReferenceRequest[] = [];
  let results: ReferenceResult[];
  // windowTokens null: the default, larger than what fits beside a query in MAX_LENGTH.
  const cases = [
    { mode: 'max', stride: null, windowTokens: null },
    { mode: 'max', stride: 0, windowTokens: null },
    { mode: 'max', stride: 9, windowTokens: null },
    { mode: 'max', stride: null, windowTokens: 20 },
    { mode: 'mean', stride: null, windowTokens: null },
    { mode: 'first', stride: null, windowTokens: 17 },
  ] as const;

  beforeAll(async () => {
    one = model('one', 1);
    three = model('three', 3);
    for (const c of cases) requests.push({ model: one.st, max_length: MAX_LENGTH, window_tokens: c.windowTokens ?? DEFAULT_WINDOW_TOKENS, mode: c.mode, stride: c.stride, items: input });
    requests.push({ model: three.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'mean', stride: 5, items: input });
    requests.push({ model: three.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'first', stride: null, items: input });
    results = reference(requests);
    ce = await CrossEncoder.load(one.tce, { device: 'cpu', maxLength: MAX_LENGTH, batchSize: 8 });
    ce3 = await CrossEncoder.load(three.tce, { device: 'cpu', maxLength: MAX_LENGTH, multiLabel: true });
    loaded.push(ce, ce3);
  });
  afterAll(async () => {
    await Promise.all(loaded.map((m) => m.dispose()));
  });

  test('the documents are longer than the window (else nothing here is tested)', () => {
    const multi = results[0]!.windows.filter((w) => w.length > 1).length;
    expect(multi).toBeGreaterThanOrEqual(input.length / 2);
    expect(Math.max(...results[0]!.windows.map((w) => w.length))).toBeGreaterThanOrEqual(5);
  });

  test.each(cases.map((c, k) => ({ ...c, k })))('windows are the reference\'s: $mode, stride $stride, windowTokens $windowTokens', async ({ mode, stride, windowTokens, k }) => {
    const windows = await plannedSpans(ce.tokenizer, input, { maxLength: MAX_LENGTH, windowTokens: windowTokens ?? undefined, stride: stride ?? undefined, mode }, String);
    expect(spans(windows)).toEqual(results[k]!.windows);
  });

  test.each(cases.map((c, k) => ({ ...c, k })))('predict and rank agree with sentence-transformers window by window: $mode, stride $stride, windowTokens $windowTokens', async ({ mode, stride, windowTokens, k }) => {
    const options = { longDocuments: mode, ...(stride === null ? {} : { stride }), ...(windowTokens === null ? {} : { windowTokens }) };
    const expected = results[k]!.scores as number[];
    const scores = await ce.predict(input, options);
    expect(worst(scores, expected)).toBeLessThanOrEqual(FP32_BOUND);
    // rank: one query's documents, with the best window's span.
    const docs = input.filter(([q]) => q === questions[0]).map(([, d]) => d);
    const ids = input.flatMap(([q], i) => (q === questions[0] ? [i] : []));
    const ranked = await ce.rank(questions[0]!, docs, { ...options, returnPassage: true, returnDocuments: true });
    for (const r of ranked) {
      expect(Math.abs(r.score - expected[ids[r.corpusId]!]!)).toBeLessThanOrEqual(FP32_BOUND);
      const windows = results[k]!.windows[ids[r.corpusId]!]!;
      expect(windows).toContainEqual([r.passage!.start, r.passage!.end]);
      expect(r.passage!.text).toBe(r.text!.slice(r.passage!.start, r.passage!.end));
      if (mode === 'first') expect([r.passage!.start, r.passage!.end]).toEqual(windows[0]);
    }
  });

  test('the best window is the one sentence-transformers scores highest', async () => {
    const docs = input.map(([, d]) => d);
    const windows = await plannedSpans(ce.tokenizer, docs.map((d) => [questions[1]!, d]), { maxLength: MAX_LENGTH, windowTokens: undefined, stride: undefined, mode: 'max' }, String);
    const [ref] = reference([{ model: one.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'first', stride: null,
      items: windows.flatMap((ws, i) => ws.map((w): [string, string] => [questions[1]!, docs[i]!.slice(w.start, w.end)])) }]);
    const ranked = await ce.rank(questions[1]!, docs, { longDocuments: 'max', returnPassage: true });
    const scores = ref!.scores as number[];
    for (const r of ranked) {
      const first = windows.slice(0, r.corpusId).reduce((n, w) => n + w.length, 0);
      const mine = scores.slice(first, first + windows[r.corpusId]!.length);
      const ours = windows[r.corpusId]!.findIndex((w) => w.start === r.passage!.start && w.end === r.passage!.end);
      expect(ours).toBeGreaterThanOrEqual(0);
      // The highest-scoring window (two within the fp32 bound may trade places).
      expect(Math.max(...mine) - mine[ours]!).toBeLessThanOrEqual(FP32_BOUND);
      expect(Math.abs(r.score - Math.max(...mine))).toBeLessThanOrEqual(FP32_BOUND);
    }
  });

  test('windows cover every token of the document, overlapping by at most stride tokens (exactly 0 for stride 0)', () => {
    for (const [k, c] of cases.entries()) {
      if (c.mode === 'first') continue;
      const r = results[k]!;
      let multi = 0;
      r.windows.forEach((ws, i) => {
        const ranges = r.token_ranges[i];
        if (ranges === null) return; // fits: the whole document
        multi++;
        expect(ranges![0]![0]).toBe(0);
        expect(ranges![ranges!.length - 1]![1]).toBe(r.doc_tokens[i]);
        // A window holds at most windowTokens document tokens.
        if (c.windowTokens !== null) for (const [t0, t1] of ranges!) expect(t1 - t0).toBeLessThanOrEqual(c.windowTokens);
        for (let w = 1; w < ranges!.length; w++) {
          const overlap = ranges![w - 1]![1] - ranges![w]![0];
          expect(overlap).toBeGreaterThanOrEqual(0);
          expect(ranges![w]![0]).toBeGreaterThan(ranges![w - 1]![0]);
          if (c.stride === 0) expect(overlap).toBe(0);
          else expect(overlap).toBeLessThanOrEqual(c.stride ?? Number.MAX_SAFE_INTEGER);
        }
      });
      expect(multi).toBeGreaterThan(0);
    }
  });

  test('with our tokenizer too: windows stitched together, less their overlaps, are the document\'s tokens', async () => {
    const windows = await plannedSpans(ce.tokenizer, input, { maxLength: MAX_LENGTH, windowTokens: undefined, stride: 9, mode: 'max' }, String);
    for (const [i, [query, doc]] of input.entries()) {
      const docIds = Array.from(ce.tokenizer.encode(doc, null, { addSpecialTokens: false }).ids);
      const stitched: number[] = [];
      windows[i]!.forEach((w, k) => {
        const ids = Array.from(ce.tokenizer.encode(doc.slice(w.start, w.end), null, { addSpecialTokens: false }).ids);
        expect(ce.tokenizer.encode(query, doc.slice(w.start, w.end)).ids.length).toBeLessThanOrEqual(MAX_LENGTH);
        const overlap = k === 0 ? 0 : ce.tokenizer.encode(doc.slice(w.start, windows[i]![k - 1]!.end), null, { addSpecialTokens: false }).ids.length;
        if (k > 0) expect(overlap).toBeLessThanOrEqual(9);
        if (k > 0 && windows[i]![k - 1]!.end <= w.start) expect(overlap).toBe(0);
        stitched.push(...ids.slice(Math.max(0, overlap)));
      });
      expect(stitched).toEqual(docIds);
    }
  });

  test('multi-label: mean and first per label agree with sentence-transformers; max is refused', async () => {
    for (const [k, mode] of [[cases.length, 'mean'], [cases.length + 1, 'first']] as const) {
      const rows = await ce3.predict(input, { longDocuments: mode, ...(mode === 'mean' ? { stride: 5 } : {}) });
      const expected = results[k]!.scores as number[][];
      expect(worst(rows.flatMap((r) => Array.from(r)), expected.flat())).toBeLessThanOrEqual(FP32_BOUND);
    }
    await expect(ce3.predict(input, { longDocuments: 'max' })).rejects.toMatchObject({ code: 'TCE_INVALID_OPTION', message: expect.stringMatching(/one-label model.*'mean'/) });
  });

  test('documents that fit give the truncate scores in every mode, and a single pair works', async () => {
    const short = bioasqPairs(80).filter(([q, d]) => ce.tokenizer.encode(q, d).ids.length <= MAX_LENGTH);
    expect(short.length).toBeGreaterThanOrEqual(10);
    const truncated = await ce.predict(short);
    for (const mode of ['max', 'mean', 'first'] as const) {
      expect(worst(await ce.predict(short, { longDocuments: mode }), truncated)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      // Mixed with long documents, in other batches.
      const mixed = await ce.predict([...input, ...short], { longDocuments: mode });
      expect(worst(mixed.subarray(input.length), truncated)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      expect(Math.abs((await ce.predict(short[0]!, { longDocuments: mode })) - truncated[0]!)).toBeLessThanOrEqual(SAME_PAIR_BOUND);
      const rows = await ce3.predict(short.slice(0, 5), { longDocuments: mode === 'max' ? 'mean' : mode });
      const rows3 = await ce3.predict(short.slice(0, 5));
      expect(worst(rows.flatMap((r) => Array.from(r)), rows3.flatMap((r) => Array.from(r)))).toBeLessThanOrEqual(SAME_PAIR_BOUND);
    }
    const ranked = await ce.rank(short[0]![0], [short[0]![1]], { longDocuments: 'max', returnPassage: true });
    expect(ranked[0]!.passage).toEqual({ start: 0, end: short[0]![1].length, text: short[0]![1] });
  });

  test('a whitespace-free run longer than the window is cut by characters: nothing lost, nothing truncated, scored as sentence-transformers scores those windows', async () => {
    const doc = `${abstracts[0]!.slice(0, 200)} ${'蛋白质结构预测'.repeat(30)}${'x'.repeat(700)}ATGCGTACGT${'🧬'.repeat(40)} end`;
    const query = questions[2]!;
    const [windows] = await plannedSpans(ce.tokenizer, [[query, doc]], { maxLength: MAX_LENGTH, windowTokens: undefined, stride: 0, mode: 'max' }, String);
    expect(windows!.length).toBeGreaterThan(3);
    expect(windows![0]!.start).toBe(0);
    expect(windows![windows!.length - 1]!.end).toBe(doc.length);
    for (let k = 1; k < windows!.length; k++) {
      // Contiguous, or separated by whitespace only.
      expect(doc.slice(windows![k - 1]!.end, windows![k]!.start)).toMatch(/^\s*$/);
      expect(windows![k]!.start).toBeGreaterThanOrEqual(windows![k - 1]!.end);
    }
    for (const w of windows!) {
      expect(ce.tokenizer.encode(query, doc.slice(w.start, w.end)).ids.length).toBeLessThanOrEqual(MAX_LENGTH);
      expect(doc.slice(w.start, w.end)).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/); // no lone surrogate
    }
    const [ref] = reference([{ model: one.st, max_length: MAX_LENGTH, window_tokens: DEFAULT_WINDOW_TOKENS, mode: 'max', stride: 0, items: [[query, doc]],
      windows: [windows!.map((w): [number, number] => [w.start, w.end])] }]);
    const score = await ce.predict([query, doc], { longDocuments: 'max', stride: 0 });
    expect(Math.abs(score - (ref!.scores[0] as number))).toBeLessThanOrEqual(FP32_BOUND);
  });

  test('onProgress counts documents: rising, total the number of documents, ending there', async () => {
    for (const mode of ['max', 'mean', 'first'] as const) {
      const reports: Array<[number, number]> = [];
      await ce.predict(input, { longDocuments: mode, batchSize: 4, onProgress: (done, total) => void reports.push([done, total]) });
      expect(reports.length).toBeGreaterThan(1);
      expect(reports.every(([, total]) => total === input.length)).toBe(true);
      for (let i = 1; i < reports.length; i++) expect(reports[i]![0]).toBeGreaterThan(reports[i - 1]![0]);
      expect(reports[reports.length - 1]).toEqual([input.length, input.length]);
    }
    const ranked: Array<[number, number]> = [];
    const docs = input.map(([, d]) => d);
    await ce.rank(questions[0]!, docs, { longDocuments: 'max', batchSize: 4, onProgress: (d, t) => void ranked.push([d, t]) });
    expect(ranked[ranked.length - 1]).toEqual([docs.length, docs.length]);
  });

  test('an AbortSignal stops the call: before it starts, and from onProgress after the first documents', async () => {
    const before = new AbortController();
    before.abort();
    await expect(ce.predict(input, { longDocuments: 'max', signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const during = new AbortController();
    const reports: number[] = [];
    const call = ce.predict(input, { longDocuments: 'max', batchSize: 2, signal: during.signal, onProgress: (done) => {
      reports.push(done);
      during.abort();
    } });
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(reports.length).toBe(1);
    expect(reports[0]!).toBeLessThan(input.length);
    // Still usable.
    expect((await ce.predict(input.slice(0, 2), { longDocuments: 'max' })).length).toBe(2);
  });

  test('bad options and a query that leaves no room are clear errors', async () => {
    const invalid = { code: 'TCE_INVALID_OPTION' };
    await expect(ce.predict(input, { longDocuments: 'chunks' as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("'truncate', 'max', 'mean', 'first'") });
    for (const stride of [-1, 1.5, '4', Number.NaN]) {
      await expect(ce.predict(input, { longDocuments: 'max', stride: stride as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('stride must be an integer') });
    }
    await expect(ce.predict(input, { stride: 4 })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("stride applies to longDocuments 'max'") });
    await expect(ce.predict(input, { windowTokens: 32 })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining("windowTokens applies to longDocuments 'max'") });
    for (const windowTokens of [0, -3, 2.5, '64', 2 ** 21]) {
      await expect(ce.predict(input, { longDocuments: 'mean', windowTokens: windowTokens as never })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('windowTokens must be an integer from 1 to 1048576') });
    }
    await expect(ce.predict(input, { longDocuments: 'max', windowTokens: 12, stride: 12 })).rejects.toMatchObject({ ...invalid, message: 'stride 12 must be smaller than the window of pairs[0]: windowTokens 12.' });
    await expect(ce.predict(input, { longDocuments: 'max', stride: 60 })).rejects.toMatchObject({ ...invalid, message: expect.stringMatching(/stride 60 must be smaller than the window of pairs\[0\]: maxLength 64 - \d+ query tokens - 3 special tokens = \d+ tokens for the document \(below windowTokens 128\)/) });
    await expect(ce.rank('q', ['d'], { returnPassage: true })).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('returnPassage needs longDocuments') });
    await expect(ce.predict(input, { longDocuments: 'max', strides: 4 } as never)).rejects.toMatchObject({ ...invalid, message: expect.stringContaining('did you mean "stride"') });
    const longQuery = `${questions[0]} `.repeat(8);
    await expect(ce.predict([['short', 'doc'], [longQuery, abstracts[0]!]], { longDocuments: 'mean' })).rejects.toMatchObject({
      code: 'TCE_INVALID_INPUT', message: expect.stringMatching(/^pairs\[1\]: the query takes \d+ tokens .* never truncated/),
    });
    // 'truncate' still truncates such a pair, as sentence-transformers does.
    expect((await ce.predict([[longQuery, abstracts[0]!]])).length).toBe(1);
  });
});

// Metaspace (sentencepiece Unigram: XLM-R, DeBERTa-v3) and byte-level BPE (ModernBERT) tokenizers:
// a window's first word is tokenized as a text's first word, so the counted pieces are checked by
// encoding each window's pair; here every window must fit and the windows must cover all the text.
const families = familyTokenizers('st6');
describe.skipIf('skip' in families)(`long documents with other tokenizer families${'skip' in families ? `; skipped: ${families.skip}` : ''}`, () => {
  test.each(['xlmr', 'deberta-v3', 'modernbert'])('%s: every window fits beside the query, and only whitespace is left out', async (name) => {
    const tokenizer = Tokenizer.fromModelDir(path.join((families as { dir: string }).dir, name));
    const texts = multilingualTexts();
    const maxLength = 96;
    const input = texts.map((t, i): [string, string] => [questions[i % questions.length]!, `${t}\n\n${abstracts[i]}\t${t}`]);
    const windows = await plannedSpans(tokenizer, input, { maxLength, windowTokens: undefined, stride: 4, mode: 'max' }, String);
    let multi = 0;
    for (const [i, [query, doc]] of input.entries()) {
      const ws = windows[i]!;
      if (ws.length > 1) multi++;
      const covered = new Uint8Array(doc.length);
      for (const w of ws) {
        const pair = tokenizer.encode(query, doc.slice(w.start, w.end));
        if (ws.length > 1) expect(pair.ids.length).toBeLessThanOrEqual(maxLength);
        covered.fill(1, w.start, w.end);
      }
      for (let k = 1; k < ws.length; k++) expect(ws[k]!.start).toBeGreaterThan(ws[k - 1]!.start);
      for (let c = 0; c < doc.length; c++) if (!covered[c]) expect(doc[c]).toMatch(/\s/u);
    }
    expect(multi).toBeGreaterThan(input.length / 2);
  });
});
