/** `rank`: documents (a JSONL file or stdin) ranked for one query, best first. */
import { CrossEncoder } from '../cross-encoder';
import { flagErrors, integerFlag, type ParsedArgs, UsageError } from './args';
import { readLines } from './lines';
import { loadOptions, longDocumentOptions } from './model-options';
import { openOutput } from './output';
import { checkInput, checkOutput } from './paths';
import { maxLineBytes, openInput } from './score';

/** The documents of a JSONL input: "text" or {"text"|"document": text} lines; blank lines skipped. */
async function readDocuments(input: string, limit: number): Promise<string[]> {
  const name = input === '-' ? 'stdin' : input;
  const documents: string[] = [];
  for await (const line of readLines(openInput(input), limit)) {
    if ('tooLong' in line) throw new UsageError(`${name} line ${line.number}: longer than ${limit} bytes (--max-line-bytes)`);
    if (line.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch {
      throw new UsageError(`${name} line ${line.number}: not JSON`);
    }
    if (typeof value === 'string') {
      documents.push(value);
      continue;
    }
    const record = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
    const text = record.text ?? record.document;
    if (typeof text !== 'string') throw new UsageError(`${name} line ${line.number}: expected a string or {"text": string}`);
    documents.push(text);
  }
  return documents;
}

export async function rank({ values, positionals }: ParsedArgs): Promise<number> {
  const [modelDir, input] = positionals;
  if (typeof values.query !== 'string') throw new UsageError('missing --query');
  const output = typeof values.output === 'string' ? values.output : '-';
  checkInput(input);
  checkOutput(output, input);
  const topK = integerFlag('top-k', values['top-k']);
  const longDocuments = longDocumentOptions(values);
  const documents = await readDocuments(input, maxLineBytes(values));
  if (documents.length === 0) {
    throw new UsageError(`no documents in ${input === '-' ? 'stdin' : input}: nothing to rank (one document a line: "text" or {"text": ...})`);
  }
  const model = await CrossEncoder.load(modelDir, loadOptions(values)).catch((error: unknown) => {
    throw flagErrors(error);
  });
  try {
    const ranked = await model.rank(values.query, documents, {
      returnDocuments: values['return-documents'] === true,
      ...longDocuments,
      ...(values['return-passage'] === true ? { returnPassage: true } : {}),
      ...(topK !== undefined ? { topK } : {}),
      ...(values['raw-scores'] ? { activation: 'identity' as const } : {}),
    }).catch((error: unknown) => {
      throw flagErrors(error);
    });
    const sink = openOutput(output);
    try {
      await sink.write(ranked.map((r) => `${JSON.stringify(r)}\n`).join(''), ranked.length);
    } finally {
      await sink.close();
    }
    return 0;
  } finally {
    await model.dispose();
  }
}
