/**
 * The reranker that ships inside the package (models/biomed-minilm-ce: a MiniLM-L6 cross-encoder
 * distilled for biomedical questions and PubMed passages; its README.md is the model card).
 *
 * `CrossEncoder.load()` with no directory loads it, and so does its name, the way
 * sentence-transformers resolves a model name: a directory of that name in the working directory
 * wins, else the bundled model is used.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TceError } from './errors';
import { packageRoot } from './native';

/** The bundled model's name: `CrossEncoder.load(BUNDLED_MODEL)` and the CLI's MODEL_DIR accept it. */
export const BUNDLED_MODEL = 'biomed-minilm-ce';

/** Absolute path of the bundled model directory. */
export const bundledModelDir = path.join(packageRoot, 'models', BUNDLED_MODEL);

/** The directory to load for a `load()` argument: the bundled model for none or its name, else the argument. */
export function resolveModelDir(modelDir: string | undefined): string {
  const bundled = modelDir === undefined || (modelDir === BUNDLED_MODEL && !fs.existsSync(path.resolve(modelDir)));
  if (!bundled) return modelDir;
  if (!fs.existsSync(path.join(bundledModelDir, 'model.pt'))) {
    throw new TceError('TCE_MODEL_DIR', `The bundled model ${BUNDLED_MODEL} is not in this install (${bundledModelDir}). ` +
      'Reinstall the package (npm install torch-cross-encoder), or pass a model directory made by scripts/export.py.');
  }
  return bundledModelDir;
}
