/**
 * Reads a model directory (README, *Model directory*; docs/EXPORT.md): a sentence-transformers
 * CrossEncoder save plus model.pt (TorchScript) and/or model.pt2 (AOTInductor package).
 * Everything is checked before libtorch is touched, so that a wrong folder gets one error listing
 * everything that is missing, and config values are checked against LIMITS and the model file.
 */
import path from 'node:path';
import { coreRunsPt2, loadedRuntime, PT2_MIN_LIBTORCH } from './core';
import { TceError } from './errors';
import { fileKind, readJsonObject } from './files';
import { readExportMetadata } from './torchscript-archive';
import { describe, LIMITS } from './validate';

/** The model files a directory may hold, by format. */
export interface ModelFiles {
  /** model.pt: TorchScript, runs on every core. */
  torchscript: string | null;
  /** model.pt2: AOTInductor package, runs on cores for libtorch 2.6 and later. */
  pt2: string | null;
}

export type ModelFormat = keyof ModelFiles;

export type Activation = 'sigmoid' | 'identity' | 'softmax' | 'tanh';

export interface ModelDirInfo {
  dir: string;
  modelFiles: ModelFiles;
  /**
   * The model file to load, chosen when read (after the runtime is loaded) by modelFileFor:
   * model.pt2 on a core that runs packages, else model.pt; TCE_MODEL_FORMAT overrides.
   */
  readonly modelPath: string;
  numLabels: number;
  /** config.json max_position_embeddings (null when absent). */
  maxPositionEmbeddings: number | null;
  /**
   * The longest sequence the position table holds (null when unknown): max_position_embeddings,
   * less the rows before padding_idx + 1 for RoBERTa-style models (RoBERTa, XLM-R, CamemBERT),
   * whose position ids start after the padding index (514 rows hold 512 positions).
   */
  maxSequenceLength: number | null;
  /** As sentence-transformers picks it (see activationOf), else by numLabels. */
  defaultActivation: Activation;
  /** config.json vocab_size and type_vocab_size: the rows of the model's embedding tables (null when absent). */
  vocabSize: number | null;
  typeVocabSize: number | null;
  /** Whether the model file takes token_type_ids (its export metadata's input_names; exports without them take all three). */
  takesTokenTypeIds: boolean;
}

/** What checkTokenizerFitsModel needs of a tokenizer (the native one has it). */
export interface TokenizerIdRange {
  /** The largest id / type id it can give. */
  readonly maxId: number;
  readonly maxTypeId: number;
  /** The token text of each id ('' where none). */
  tokens(ids: Int32Array): string[];
}

/** The torch class paths sentence-transformers stores, mapped to our names. */
const ACTIVATION_CLASSES: Record<string, Activation> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'identity',
  'torch.nn.modules.activation.Tanh': 'tanh',
  'torch.nn.modules.activation.Softmax': 'softmax',
};

const readJson = (file: string) => readJsonObject(file, 'TCE_MODEL_DIR');

/**
 * The scores per pair: a module chain's or causal LM's export states it (its tce_head; the
 * config.json beside it is its bare encoder's or decoder's, whose num_labels means nothing);
 * else, as transformers' PretrainedConfig, num_labels, else the size of id2label, else 2.
 */
function numLabelsOf(config: Record<string, unknown>, file: string, files: ModelFiles): number {
  const exported = exportedNumLabels(files);
  if (exported) file = exported.file;
  const declared = exported ? exported.numLabels
    : config.num_labels ?? (config.id2label && typeof config.id2label === 'object' ? Object.keys(config.id2label).length : 2);
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

/** Model types whose position ids start at padding_idx + 1 (transformers' RoBERTa embeddings). */
const POSITIONS_AFTER_PADDING = new Set(['roberta', 'xlm-roberta', 'camembert', 'xlm-roberta-xl']);

function maxSequenceOf(config: Record<string, unknown>, maxPositions: number | null): number | null {
  if (maxPositions === null) return null;
  if (!POSITIONS_AFTER_PADDING.has(String(config.model_type))) return maxPositions;
  const pad = typeof config.pad_token_id === 'number' && Number.isInteger(config.pad_token_id) && config.pad_token_id >= 0 ? config.pad_token_id : 1;
  return Math.max(0, maxPositions - pad - 1);
}

/** A non-negative integer setting of config.json, or null when absent. */
function tableSizeOf(config: Record<string, unknown>, key: string, file: string): number | null {
  const value = config[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TceError('TCE_MODEL_DIR', `${file}: ${key} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** The num_labels a model file's export metadata states for a head other than a classifier. */
function exportedNumLabels(files: ModelFiles): { file: string; numLabels: unknown } | null {
  for (const file of [files.torchscript, files.pt2]) {
    if (file === null) continue;
    const metadata = readExportMetadata(file);
    if (metadata && typeof metadata.tce_head === 'string' && metadata.tce_head !== 'classifier') {
      return { file, numLabels: metadata.num_labels };
    }
  }
  return null;
}

/** False only when every model file names its inputs and none is token_type_ids. */
function takesTokenTypeIdsOf(files: ModelFiles): boolean {
  const present = [files.torchscript, files.pt2].filter((f): f is string => f !== null);
  return present.some((file) => {
    const names = readExportMetadata(file)?.input_names;
    return !Array.isArray(names) || names.includes('token_type_ids');
  });
}

/**
 * Every id the tokenizer can give must index the model's embedding tables (config.json
 * vocab_size, and type_vocab_size when the model takes token_type_ids): past them, CPU libtorch
 * raises an index error mid-batch and CUDA a device-side assert that breaks every model in the
 * process. Checked once at load; an absent size is not checked.
 */
export function checkTokenizerFitsModel(info: ModelDirInfo, tokenizer: TokenizerIdRange): void {
  const configFile = path.join(info.dir, 'config.json');
  if (info.vocabSize !== null && tokenizer.maxId >= info.vocabSize) {
    const token = tokenizer.tokens(Int32Array.of(tokenizer.maxId))[0] ?? '';
    const what = token === '' ? `a special token of the post-processor (id ${tokenizer.maxId})` : `token ${JSON.stringify(token)} (id ${tokenizer.maxId})`;
    throw new TceError('TCE_TOKENIZER_FILE',
      `The tokenizer in ${info.dir} gives ${what}, but ${configFile} has vocab_size ${info.vocabSize}: ` +
      'the model has no embedding for it. Use the tokenizer files saved with this model (or resize its embeddings and export it again).');
  }
  if (info.takesTokenTypeIds && info.typeVocabSize !== null && tokenizer.maxTypeId >= info.typeVocabSize) {
    throw new TceError('TCE_TOKENIZER_FILE',
      `The tokenizer in ${info.dir} gives type id ${tokenizer.maxTypeId} (its post_processor's template), but ${configFile} has ` +
      `type_vocab_size ${info.typeVocabSize}: the model has no token type embedding for it. Use the tokenizer files saved with this model.`);
  }
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
  const irregular = ['model.pt', 'model.pt2', 'config.json', 'tokenizer.json', 'vocab.txt', 'config_sentence_transformers.json'].filter((n) => kind(n) === 'other');
  if (irregular.length > 0) {
    throw new TceError('TCE_MODEL_DIR', `In ${absolute}, ${irregular.join(', ')} must be regular files (not a directory, FIFO or device).`);
  }
  const has = (name: string) => kind(name) === 'file';
  const missing: string[] = [];
  if (!has('model.pt') && !has('model.pt2')) {
    missing.push('model.pt or model.pt2 (the exported model: make it with `npx torch-cross-encoder export <model dir or hub id> <out dir>`, see docs/EXPORT.md)');
  }
  if (!has('config.json')) missing.push('config.json');
  if (!has('tokenizer.json') && !has('vocab.txt')) missing.push('tokenizer.json or vocab.txt');
  if (missing.length > 0) {
    throw new TceError('TCE_MODEL_DIR', `Model directory ${absolute} is missing:\n  - ${missing.join('\n  - ')}`);
  }
  const configFile = path.join(absolute, 'config.json');
  const config = readJson(configFile);
  // sentence-transformers 5+ keep the activation in their own file; scripts/export.py copies it.
  const stConfigFile = has('config_sentence_transformers.json') ? path.join(absolute, 'config_sentence_transformers.json') : null;
  const stConfig = stConfigFile ? readJson(stConfigFile) : null;
  const modelFiles: ModelFiles = {
    torchscript: has('model.pt') ? path.join(absolute, 'model.pt') : null,
    pt2: has('model.pt2') ? path.join(absolute, 'model.pt2') : null,
  };
  const numLabels = numLabelsOf(config, configFile, modelFiles);
  const maxPositionEmbeddings = maxPositionsOf(config, configFile);
  checkPositionTable(modelFiles, maxPositionEmbeddings, configFile);
  return {
    dir: absolute,
    modelFiles,
    get modelPath() {
      return modelFileFor(modelFiles, loadedRuntime()?.core.torchVersion ?? null);
    },
    numLabels,
    maxPositionEmbeddings,
    maxSequenceLength: maxSequenceOf(config, maxPositionEmbeddings),
    defaultActivation: activationOf(config, stConfig, numLabels, stConfigFile ?? configFile),
    vocabSize: tableSizeOf(config, 'vocab_size', configFile),
    typeVocabSize: tableSizeOf(config, 'type_vocab_size', configFile),
    takesTokenTypeIds: takesTokenTypeIdsOf(modelFiles),
  };
}

/**
 * config.json's max_position_embeddings must fit the model's position table (its rows, which
 * scripts/export.py records as max_positions): past it, positions would index outside the table.
 * Model files exported before the table size was recorded are not checked.
 */
function checkPositionTable(files: ModelFiles, declared: number | null, configFile: string): void {
  if (declared === null) return;
  for (const file of [files.torchscript, files.pt2]) {
    if (file === null) continue;
    const rows = readExportMetadata(file)?.max_positions;
    if (typeof rows === 'number' && Number.isInteger(rows) && declared > rows) {
      throw new TceError('TCE_MODEL_FILE',
        `${configFile}: max_position_embeddings is ${declared}, but ${path.basename(file)}'s position table has ${rows} rows; ` +
        `set it to ${rows} (or less), or export the model again from the config that matches its weights.`);
    }
  }
}

/**
 * Which model file to load: TCE_MODEL_FORMAT=torchscript|pt2 when set; else model.pt2 when
 * present and the core (libtorch `coreTorchVersion`) runs packages, else model.pt when present,
 * else model.pt2 (which an older core then refuses, naming the libtorch it needs).
 */
export function modelFileFor(files: ModelFiles, coreTorchVersion: string | null, env: NodeJS.ProcessEnv = process.env): string {
  const forced = env.TCE_MODEL_FORMAT;
  if (forced !== undefined && forced !== '') {
    if (forced !== 'torchscript' && forced !== 'pt2') {
      throw new TceError('TCE_INVALID_OPTION', `TCE_MODEL_FORMAT must be 'torchscript' or 'pt2', got ${describe(forced)}`);
    }
    const file = files[forced];
    if (file === null) {
      throw new TceError('TCE_MODEL_DIR', `TCE_MODEL_FORMAT=${forced}, but the model directory has no ${forced === 'pt2' ? 'model.pt2' : 'model.pt'}.`);
    }
    return file;
  }
  const runsPt2 = coreTorchVersion !== null && coreRunsPt2(coreTorchVersion);
  if (files.pt2 !== null && (runsPt2 || files.torchscript === null)) return files.pt2;
  if (files.torchscript !== null) return files.torchscript;
  throw new TceError('TCE_MODEL_DIR', `no model.pt or model.pt2 (model.pt2 needs libtorch ${PT2_MIN_LIBTORCH} or later)`);
}
