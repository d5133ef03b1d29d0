/**
 * Reads a model directory (README, *Model directory*): a sentence-transformers CrossEncoder save
 * plus model.pt. Everything is checked before libtorch is touched, so that a wrong folder gets one
 * error listing everything that is missing, and config values are checked against LIMITS.
 */
import path from 'node:path';
import { TceError } from './errors';
import { fileKind, readJsonObject } from './files';
import { describe, LIMITS } from './validate';

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

const readJson = (file: string) => readJsonObject(file, 'TCE_MODEL_DIR');

/** As transformers' PretrainedConfig: num_labels, else the size of id2label, else 2. */
function numLabelsOf(config: Record<string, unknown>, file: string): number {
  const declared = config.num_labels ?? (config.id2label && typeof config.id2label === 'object' ? Object.keys(config.id2label).length : 2);
  const { min, max } = LIMITS.numLabels;
  if (typeof declared !== 'number' || !Number.isInteger(declared) || declared < min || declared > max) {
    throw new TceError('TCE_MODEL_DIR', `${file}: num_labels must be an integer from ${min} to ${max}, got ${describe(declared)}`);
  }
  return declared;
}

/** config.json max_position_embeddings, when present: room for at least [CLS] and two [SEP]. */
function maxPositionsOf(config: Record<string, unknown>, file: string): number | null {
  const value = config.max_position_embeddings;
  if (value === undefined || value === null) return null;
  const { min, max } = LIMITS.maxLength;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TceError('TCE_MODEL_DIR', `${file}: max_position_embeddings must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
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
  const dirKind = fileKind(absolute, 'TCE_MODEL_DIR');
  if (dirKind !== 'other') {
    throw new TceError('TCE_MODEL_DIR', `Model directory ${absolute} ${dirKind === 'missing' ? 'does not exist' : 'is a file, not a directory'}.`);
  }
  const kinds = new Map<string, ReturnType<typeof fileKind>>();
  const kind = (name: string) => {
    if (!kinds.has(name)) kinds.set(name, fileKind(path.join(absolute, name), 'TCE_MODEL_DIR'));
    return kinds.get(name)!;
  };
  // Only regular files: libtorch would wait forever on a FIFO named model.pt.
  const irregular = ['model.pt', 'config.json', 'tokenizer.json', 'vocab.txt', 'config_sentence_transformers.json'].filter((n) => kind(n) === 'other');
  if (irregular.length > 0) {
    throw new TceError('TCE_MODEL_DIR', `In ${absolute}, ${irregular.join(', ')} must be regular files (not a directory, FIFO or device).`);
  }
  const has = (name: string) => kind(name) === 'file';
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
  return {
    dir: absolute,
    modelPath: path.join(absolute, 'model.pt'),
    numLabels,
    maxPositionEmbeddings: maxPositionsOf(config, configFile),
    defaultActivation: activationOf(config, stConfig, numLabels, stConfigFile ?? configFile),
  };
}
