/**
 * GET /info in text-embeddings-inference 1.x's schema (its `Info`), so that clients that read it
 * (huggingface_hub's InferenceClient.get_endpoint_info, TEI dashboards) understand it, followed by
 * facts of our own (libtorch, device, precision) in fields TEI does not have.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CrossEncoder } from '../cross-encoder';
import { packageRoot } from '../native';
import { runtimeInfo } from '../runtime-info';
import type { ResolvedServerOptions } from './options';

export interface Labels {
  id2label: Record<string, string>;
  label2id: Record<string, number>;
}

/**
 * The model's labels from its config.json, as transformers reads them: id2label when it has one
 * entry per label, else LABEL_0, LABEL_1, ... (the model already loaded, so its config is sound).
 */
export function readLabels(modelDir: string, numLabels: number): Labels {
  let declared: unknown;
  try {
    declared = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')).id2label;
  } catch {
    declared = undefined;
  }
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < numLabels; i++) {
    const name = (declared as Record<string, unknown> | undefined)?.[String(i)];
    const label = typeof name === 'string' ? name : `LABEL_${i}`;
    id2label[String(i)] = label;
    label2id[label] = i;
  }
  return { id2label, label2id };
}

const DTYPES = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' } as const;

/** This package's version, from its package.json (`--version`, /info's `version`). */
export function packageVersion(): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

export function serverInfo(model: CrossEncoder, labels: Labels, options: ResolvedServerOptions) {
  const runtime = runtimeInfo();
  const modelId = options.modelId ?? model.modelDir;
  return {
    // TEI's Info, field for field.
    model_id: modelId,
    model_sha: null,
    model_dtype: DTYPES[model.precision],
    served_model_name: modelId,
    // A one-label model reranks (TEI serves /rerank for it); several labels classify.
    model_type: model.numLabels === 1 ? { reranker: labels } : { classifier: labels },
    max_concurrent_requests: options.maxConcurrentRequests,
    max_input_length: model.maxLength,
    max_batch_tokens: model.maxBatchTokens,
    max_batch_requests: model.batchSize,
    max_client_batch_size: options.maxClientBatchSize,
    auto_truncate: true,
    // Pairs are tokenized on a shared pool of one native thread per core.
    tokenization_workers: os.availableParallelism(),
    version: packageVersion(),
    sha: process.env.TCE_GIT_SHA || null,
    docker_label: process.env.DOCKER_LABEL || null,
    // Ours.
    server: 'torch-cross-encoder',
    device: model.device,
    precision: model.precision,
    libtorch: runtime.libtorch.version,
    // The libtorch threads of this model's forwards (null on CUDA), and the CPU's bf16 support.
    cpu_threads: model.device === 'cpu' ? model.cpuThreads : null,
    cpu_bf16: runtime.cpu.bf16,
    cuda_devices: runtime.cuda.devices.map((d) => d.name),
  };
}
