/**
 * The ready-made reranker, biomed-minilm-ce (a MiniLM-L6 cross-encoder distilled for biomedical
 * questions and PubMed passages; its README.md is the model card). Its 67 MB of weights are their
 * own npm package, BUNDLED_MODEL_PACKAGE, so that the main package stays small: a user who wants
 * it installs both, and `CrossEncoder.load()` finds it with Node's own module resolution.
 *
 * `CrossEncoder.load()` with no directory loads it, and so does its name, the way
 * sentence-transformers resolves a model name: a directory of that name in the working directory
 * wins, else the model package is used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TceError } from './errors';
import { packageRoot } from './native';

/** The model's name: `CrossEncoder.load(BUNDLED_MODEL)` and the CLI's MODEL_DIR accept it. */
export const BUNDLED_MODEL = 'biomed-minilm-ce';

/** The npm package that holds the model (models/biomed-minilm-ce in the repository). */
export const BUNDLED_MODEL_PACKAGE = '@torch-cross-encoder/biomed-minilm-ce';

/**
 * Where the model package is: resolved from this package, as `require()` would find it (a
 * sibling in node_modules; in a clone, the npm workspace link), else the repository's own
 * models/ folder (a clone whose node_modules lacks the link). Null when neither is there.
 */
function findBundledModel(): string | null {
  try {
    return path.dirname(require.resolve(`${BUNDLED_MODEL_PACKAGE}/package.json`, { paths: [packageRoot] }));
  } catch {
    const inRepository = path.join(packageRoot, 'models', BUNDLED_MODEL);
    return fs.existsSync(path.join(inRepository, 'package.json')) ? inRepository : null;
  }
}

/**
 * Absolute path of the bundled model's directory (to pass to `Tokenizer.fromModelDir()`, the
 * CLI, or Python). Throws TCE_MODEL_DIR, with the command that installs it, when the model
 * package is not installed.
 */
export function bundledModelDir(): string {
  const dir = findBundledModel();
  if (dir === null || !fs.existsSync(path.join(dir, 'model.pt'))) {
    throw new TceError(
      'TCE_MODEL_DIR',
      `The ready-made model ${BUNDLED_MODEL} is not installed${dir === null ? '' : ` (${dir} has no model.pt)`}: it is its own package ` +
        `(67 MB). Install it beside torch-cross-encoder:\n  npm install ${BUNDLED_MODEL_PACKAGE}\n` +
        'or pass a model directory of your own (made by `npx torch-cross-encoder export`).',
    );
  }
  return dir;
}

/**
 * `dir`, unless it is the ready-made model's name (BUNDLED_MODEL) and no directory of that name
 * exists in the working directory (sentence-transformers' rule for names): then the ready-made
 * model's directory. The one place that rule lives (CrossEncoder.load and Tokenizer use it).
 */
export function bundledModelByName(dir: string): string {
  return dir === BUNDLED_MODEL && !fs.existsSync(path.resolve(dir)) ? bundledModelDir() : dir;
}

/**
 * The directory to load for a `load()` argument: the bundled model for none or its name (when
 * no directory of that name is in the working directory), else the argument. A directory that
 * does not exist is an error that says how a model directory is made: nothing is downloaded.
 */
export function resolveModelDir(modelDir: string | undefined): string {
  if (modelDir === undefined) return bundledModelDir();
  const named = bundledModelByName(modelDir);
  if (named !== modelDir) return named;
  if (fs.existsSync(path.resolve(modelDir))) return modelDir;
  throw new TceError(
    'TCE_MODEL_DIR',
    `Model directory ${path.resolve(modelDir)} does not exist. A model directory is a sentence-transformers CrossEncoder ` +
      'save plus its TorchScript trace (model.pt); nothing is downloaded at load. Make one with:\n' +
      `  npx torch-cross-encoder export <hub id or local save> ${modelDir}\n` +
      `or load the ready-made biomedical reranker with CrossEncoder.load() (npm install ${BUNDLED_MODEL_PACKAGE}).`,
  );
}
