/**
 * Reads a model directory (DESIGN.md section 4): a sentence-transformers CrossEncoder save plus
 * model.pt. Everything is checked before libtorch is touched, so that a wrong folder gets one
 * error listing everything that is missing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TceError } from './errors';

export type Activation = 'sigmoid' | 'identity' | 'softmax' | 'tanh';

export interface ModelDirInfo {
  dir: string;
  modelPath: string;
  numLabels: number;
  /** config.json max_position_embeddings (null when absent). */
  maxPositionEmbeddings: number | null;
  /** As sentence-transformers picks it (see activationOf), else by numLabels. */
  defaultActivation: Activation;
}

/** The torch class paths sentence-transformers stores, mapped to our names. */
const ACTIVATION_CLASSES: Record<string, Activation> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.activation.Softmax': 'softmax',
};

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new TceError('TCE_MODEL_DIR', `Cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new TceError('TCE_MODEL_DIR', `${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/** As transformers' PretrainedConfig: num_labels, else the size of id2label, else 2. */
function numLabelsOf(config: Record<string, unknown>, file: string): number {
  const declared = config.num_labels ?? (config.id2label && typeof config.id2label === 'object' ? Object.keys(config.id2label).length : 2);
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < 1) {
    throw new TceError('TCE_MODEL_DIR', `${file}: num_labels must be a positive integer, got ${JSON.stringify(declared)}`);
  }
  return declared;
}

/**
 * The activation sentence-transformers would apply by default, looked up where each version
 * stores it: config_sentence_transformers.json's activation_fn (5.x and later), config.json's
 * sentence_transformers.activation_fn (4.x), config.json's sbert_ce_default_activation_function
 * (before 4.0); else Sigmoid for one label and Identity for more.
 */
function activationOf(config: Record<string, unknown>, stConfig: Record<string, unknown> | null, numLabels: number, file: string): Activation {
  const st = config.sentence_transformers as Record<string, unknown> | undefined;
  const stored = stConfig?.activation_fn ?? (st && typeof st === 'object' ? st.activation_fn : undefined) ?? config.sbert_ce_default_activation_function;
  const fallback: Activation = numLabels === 1 ? 'sigmoid' : 'identity';
  if (stored === undefined || stored === null) return fallback;
  const mapped = ACTIVATION_CLASSES[String(stored)];
  if (mapped) return mapped;
  // sentence-transformers warns and falls back to the default for a class it cannot import.
  process.emitWarning(`${file}: activation ${JSON.stringify(stored)} is not supported; using ${fallback}.`, { code: 'TCE_ACTIVATION' });
  return fallback;
}

export function readModelDir(dir: string): ModelDirInfo {
  const absolute = path.resolve(dir);
  if (!fs.existsSync(absolute) || !fs.statSync(absolute).isDirectory()) {
    throw new TceError('TCE_MODEL_DIR', `Model directory ${absolute} does not exist (or is not a directory).`);
  }
  const has = (name: string) => fs.existsSync(path.join(absolute, name));
  const missing: string[] = [];
  if (!has('model.pt')) missing.push('model.pt (the TorchScript trace: make it with `python3 scripts/export.py <model dir or hub id> <out dir>`)');
  if (!has('config.json')) missing.push('config.json');
  if (!has('tokenizer.json') && !has('vocab.txt')) missing.push('tokenizer.json or vocab.txt');
  if (missing.length > 0) {
    throw new TceError('TCE_MODEL_DIR', `Model directory ${absolute} is missing:\n  - ${missing.join('\n  - ')}`);
  }
  const configFile = path.join(absolute, 'config.json');
  const config = readJson(configFile);
  const numLabels = numLabelsOf(config, configFile);
  // sentence-transformers 5+ keep the activation in their own file; scripts/export.py copies it.
  const stConfigFile = has('config_sentence_transformers.json') ? path.join(absolute, 'config_sentence_transformers.json') : null;
  const stConfig = stConfigFile ? readJson(stConfigFile) : null;
  const mpe = config.max_position_embeddings;
  return {
    dir: absolute,
    modelPath: path.join(absolute, 'model.pt'),
    numLabels,
    maxPositionEmbeddings: typeof mpe === 'number' && mpe > 0 ? mpe : null,
    defaultActivation: activationOf(config, stConfig, numLabels, stConfigFile ?? configFile),
  };
}
