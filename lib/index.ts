/**
 * torch-cross-encoder: score (query, document) pairs with a BERT cross-encoder from Node.js.
 * Requiring the package never loads libtorch; that happens on the first model load or
 * runtimeInfo() call.
 */
export { runtimeInfo, type RuntimeInfo, type CudaDeviceInfo } from './runtime-info';
export { findLibtorch, LibtorchNotFoundError, type LibtorchLocation, type LibtorchSource } from './libtorch';
export { TceError, TCE_ERROR_CODES, type TceErrorCode } from './errors';
export { BUNDLED_MODEL, BUNDLED_MODEL_PACKAGE, bundledModelDir } from './bundled-model';
export { Tokenizer, type Encoding, type EncodeOptions, type EncodeInput } from './tokenizer';
export {
  CrossEncoder,
  type LoadOptions,
  type PredictOptions,
  type RankOptions,
  type RankResult,
  type Passage,
  type LongDocuments,
  type DisposeOptions,
  type Pair,
  type PairScore,
  type PairScores,
  type EngineStats,
  type Device,
  type Precision,
  type Activation,
} from './cross-encoder';
export { DEFAULT_WINDOW_TOKENS } from './long-documents';
