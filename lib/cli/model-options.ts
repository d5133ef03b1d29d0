/** The model flags shared by score, rank and serve (commands.ts), as CrossEncoder.load() options; the long-document flags of score and rank. */
import type { LoadOptions, LongDocuments, Precision, PredictOptions } from '../cross-encoder';
import type { Device } from '../device';
import { LONG_DOCUMENTS } from '../long-documents';
import { enumOption } from '../validate';
import { flagErrors, integerFlag } from './args';

export function loadOptions(values: Record<string, string | boolean | undefined>): LoadOptions {
  const options: LoadOptions = {};
  if (typeof values.device === 'string') options.device = values.device as Device;
  if (typeof values.precision === 'string') options.precision = values.precision as Precision;
  const numbers = { maxLength: 'max-length', batchSize: 'batch-size', maxBatchTokens: 'max-batch-tokens', cpuThreads: 'cpu-threads' } as const;
  for (const [option, flag] of Object.entries(numbers) as Array<[keyof typeof numbers, string]>) {
    const value = integerFlag(flag, values[flag]);
    if (value !== undefined) options[option] = value;
  }
  return options;
}

/**
 * --long-documents, --window-tokens and --stride (score and rank) as predict()/rank() options. The mode is checked
 * here, with the library's own check, before the model loads (score would otherwise meet it only
 * at its first chunk); the window's and stride's bounds depend on each pair and are the library's (flagErrors
 * names the flags in its errors).
 */
export function longDocumentOptions(values: Record<string, string | boolean | undefined>): Pick<PredictOptions, 'longDocuments' | 'windowTokens' | 'stride'> {
  const windowTokens = integerFlag('window-tokens', values['window-tokens']);
  const stride = integerFlag('stride', values.stride);
  let longDocuments: LongDocuments | undefined;
  try {
    longDocuments = enumOption('longDocuments', values['long-documents'], LONG_DOCUMENTS);
  } catch (error) {
    throw flagErrors(error);
  }
  return {
    ...(longDocuments !== undefined ? { longDocuments } : {}),
    ...(windowTokens !== undefined ? { windowTokens } : {}),
    ...(stride !== undefined ? { stride } : {}),
  };
}
