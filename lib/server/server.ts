/**
 * A rerank server over one loaded CrossEncoder, speaking text-embeddings-inference's (TEI) HTTP
 * API, on node:http. Concurrent requests share the model's forwards (its scheduler), so many small
 * requests still fill the device.
 *
 *   POST /rerank   TEI: { query, texts, raw_scores?, return_text?, truncate?, truncation_direction? }
 *                  -> [{ index, score, text? }], best first
 *   POST /predict  { inputs: [q, d] | [[q, d], ...], raw_scores? } -> a score (a row on a
 *                  multi-label model) or one per pair, in input order
 *   GET  /health   200 while serving, 503 while shutting down
 *   GET  /info     the model and the server's limits
 *   GET  /metrics  Prometheus text (see metrics.ts)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CrossEncoder, Pair } from '../cross-encoder';
import { TceError } from '../errors';
import { runtimeInfo } from '../runtime-info';
import { HttpError, toHttpError } from './http-error';
import { ServerMetrics } from './metrics';

export interface ServerOptions {
  /** Scoring requests served at once; more are answered 429 (TEI's default, 512). */
  maxConcurrentRequests?: number;
  /** Texts (or pairs) in one request at most; more are answered 413 (TEI's default, 32). */
  maxClientBatchSize?: number;
  /** Request body size at most, in bytes; larger is answered 413 (TEI's default, 2 MB). */
  maxPayloadBytes?: number;
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** The name /info reports (default: the model directory). */
  modelId?: string;
}

const DEFAULTS = { maxConcurrentRequests: 512, maxClientBatchSize: 32, maxPayloadBytes: 2_000_000 };

/** The metric label of a route: a fixed set, so that scanners cannot grow the series. */
const ROUTE_LABELS: Record<string, string> = {
  'POST /rerank': 'rerank', 'POST /predict': 'predict', 'GET /health': 'health', 'GET /info': 'info', 'GET /metrics': 'metrics',
};

function checkServerOptions(options: ServerOptions): void {
  for (const name of ['maxConcurrentRequests', 'maxClientBatchSize', 'maxPayloadBytes'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new TceError('TCE_INVALID_OPTION', `${name} must be a positive integer, got ${JSON.stringify(value)}`);
    }
  }
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw new TceError('TCE_INVALID_OPTION', 'apiKey must be a non-empty string');
  }
}

/** Compares in constant time (hashes first, so that the lengths match). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function readBody(request: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, 'Validation', `payload of ${declared} bytes > limit of ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Answered with 413 (and the connection closed after it); the rest is read and dropped,
        // so that the client gets the answer instead of a reset connection.
        request.off('data', onData);
        request.resume();
        reject(new HttpError(413, 'Validation', `payload > limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    request.on('data', onData);
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function parseJson(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(422, 'Validation', `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(422, 'Validation', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new HttpError(422, 'Validation', `\`${name}\` must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function rounded(scores: Float32Array | number): Json {
  return typeof scores === 'number' ? scores : Array.from(scores);
}

export class RerankServer {
  readonly server: http.Server;
  readonly metrics: ServerMetrics;
  private readonly options: Required<Omit<ServerOptions, 'apiKey' | 'modelId'>> & Pick<ServerOptions, 'apiKey' | 'modelId'>;
  private inFlight = 0;
  private closing: Promise<void> | null = null;

  constructor(private readonly model: CrossEncoder, options: ServerOptions = {}) {
    checkServerOptions(options);
    this.options = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    this.metrics = new ServerMetrics(model);
    this.server = http.createServer((request, response) => {
      void this.handle(request, response);
    });
    // Node closes an idle keep-alive connection after 5 s, which races with a client that reuses
    // it just then (ECONNRESET). Outlast the usual 60 s idle timeout of proxies and clients.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  /** Scoring requests (rerank, predict) being served now. */
  get inFlightRequests(): number {
    return this.inFlight;
  }

  /** Starts listening; resolves with the address (port 0 picks a free port). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // An error of the listening socket later (e.g. out of file descriptors on accept) is
        // reported, not thrown: the requests being served go on.
        this.server.on('error', (error) => process.emitWarning(`rerank server: ${error.message}`, { code: 'TCE_SERVER_ERROR' }));
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Graceful shutdown: stops accepting connections, answers new requests on open connections
   * with 503, lets the requests in flight finish, then resolves. The model stays loaded.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const route = `${request.method} ${(request.url ?? '/').split('?')[0]}`;
    // While shutting down, close each connection once its response is out.
    response.on('finish', () => {
      if (this.closing) this.server.closeIdleConnections();
    });
    let status = 200;
    try {
      this.authorize(request);
      const result = await this.route(route, request);
      if (typeof result === 'string') {
        this.send(response, 200, result, this.metrics.registry.contentType);
      } else {
        this.send(response, 200, JSON.stringify(result));
      }
    } catch (error) {
      const failure = toHttpError(error);
      status = failure.status;
      if (failure.status === 401) response.setHeader('www-authenticate', 'Bearer');
      // After a 413 the rest of the body is not read: the connection ends with the response.
      if (failure.status === 413) response.setHeader('connection', 'close');
      this.send(response, failure.status, JSON.stringify({ error: failure.message, error_type: failure.type }));
    } finally {
      const method = ROUTE_LABELS[route] ?? 'other';
      this.metrics.requests.inc({ method, status: String(status) });
      this.metrics.duration.observe({ method }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private send(response: http.ServerResponse, status: number, text: string, contentType = 'application/json'): void {
    if (response.headersSent) return;
    response.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(text),
      ...(this.closing ? { connection: 'close' } : {}),
    });
    response.end(text);
  }

  private authorize(request: http.IncomingMessage): void {
    if (!this.options.apiKey) return;
    if (!sameSecret(request.headers.authorization ?? '', `Bearer ${this.options.apiKey}`)) {
      throw new HttpError(401, 'Unauthorized', 'a valid `Authorization: Bearer <api key>` header is required');
    }
  }

  private async route(route: string, request: http.IncomingMessage): Promise<Json | string> {
    switch (route) {
      case 'GET /health':
        if (this.closing) throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
        return { status: 'ok' };
      case 'GET /info':
        return this.info();
      case 'GET /metrics':
        this.metrics.observeBatches();
        return this.metrics.registry.metrics();
      case 'POST /rerank':
      case 'POST /predict':
        return this.score(route === 'POST /rerank' ? 'rerank' : 'predict', request);
      default:
        throw new HttpError(404, 'NotFound', `no route ${route}; routes: POST /rerank, POST /predict, GET /health, GET /info, GET /metrics`);
    }
  }

  private info(): Json {
    const runtime = runtimeInfo();
    return {
      model_id: this.options.modelId ?? this.model.modelDir,
      model_type: { reranker: { num_labels: this.model.numLabels } },
      max_input_length: this.model.maxLength,
      device: this.model.device,
      precision: this.model.precision,
      max_concurrent_requests: this.options.maxConcurrentRequests,
      max_client_batch_size: this.options.maxClientBatchSize,
      libtorch: runtime.libtorch.version,
      cuda_devices: runtime.cuda.devices.map((d) => d.name),
    };
  }

  private async score(method: 'rerank' | 'predict', request: http.IncomingMessage): Promise<Json> {
    if (this.closing) throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
    if (this.inFlight >= this.options.maxConcurrentRequests) {
      throw new HttpError(429, 'Overloaded', `Model is overloaded: ${this.inFlight} requests in flight (--max-concurrent-requests ${this.options.maxConcurrentRequests})`);
    }
    this.inFlight++;
    this.metrics.inFlight.inc();
    try {
      const body = parseJson(await readBody(request, this.options.maxPayloadBytes));
      const arrived = process.hrtime.bigint();
      let first = true;
      const onProgress = () => {
        if (!first) return;
        first = false;
        this.metrics.queue.observe({ method }, Number(process.hrtime.bigint() - arrived) / 1e9);
      };
      return method === 'rerank' ? await this.rerank(body, onProgress) : await this.predict(body, onProgress);
    } finally {
      this.inFlight--;
      this.metrics.inFlight.dec();
    }
  }

  private checkBatchSize(method: 'rerank' | 'predict', count: number): void {
    if (count > this.options.maxClientBatchSize) {
      throw new HttpError(413, 'Validation', `batch size ${count} > maximum allowed batch size ${this.options.maxClientBatchSize}`);
    }
    this.metrics.pairs.observe({ method }, count);
  }

  private async rerank(body: Record<string, unknown>, onProgress: () => void): Promise<Json> {
    const { query, texts } = body;
    if (typeof query !== 'string') throw new HttpError(422, 'Validation', '`query` must be a string');
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new HttpError(422, 'Validation', '`texts` must be an array of strings');
    }
    if (texts.length === 0) throw new HttpError(422, 'Validation', '`texts` cannot be empty');
    this.checkBatchSize('rerank', texts.length);
    const rawScores = optionalBoolean(body, 'raw_scores') ?? false;
    const returnText = optionalBoolean(body, 'return_text') ?? false;
    const truncate = optionalBoolean(body, 'truncate');
    const direction = body.truncation_direction;
    if (direction !== undefined && direction !== null && !(typeof direction === 'string' && /^right$/i.test(direction))) {
      throw new HttpError(422, 'Validation', `truncation_direction ${JSON.stringify(direction)} is not supported: pairs are truncated longest-first, keeping their first tokens ('right')`);
    }
    if (truncate === false) await this.checkLengths(texts.map((text): Pair => [query, text as string]));
    const ranked = await this.model.rank(query, texts as string[], {
      returnDocuments: returnText,
      onProgress,
      ...(rawScores ? { activation: 'identity' as const } : {}),
    });
    return ranked.map((r): Json => (returnText ? { index: r.corpusId, score: r.score, text: r.text ?? '' } : { index: r.corpusId, score: r.score }));
  }

  private async predict(body: Record<string, unknown>, onProgress: () => void): Promise<Json> {
    const { inputs } = body;
    if (!Array.isArray(inputs)) throw new HttpError(422, 'Validation', '`inputs` must be a [query, document] pair or an array of them');
    const single = typeof inputs[0] === 'string';
    this.checkBatchSize('predict', single ? 1 : inputs.length);
    const rawScores = optionalBoolean(body, 'raw_scores') ?? false;
    const options = { onProgress, ...(rawScores ? { activation: 'identity' as const } : {}) };
    if (single) return rounded(await this.model.predict(inputs as unknown as Pair, options));
    const scores = await this.model.predict(inputs as Pair[], options);
    return Array.isArray(scores) ? scores.map(rounded) : Array.from(scores as Float32Array);
  }

  /** TEI's `truncate: false`: a pair longer than the model takes is an error, not cut. */
  private async checkLengths(pairs: Pair[]): Promise<void> {
    const encodings = await this.model.tokenizer.encodeBatch(pairs);
    const longest = Math.max(...encodings.map((e) => e.ids.length));
    if (longest > this.model.maxLength) {
      throw new HttpError(413, 'Validation', `Input validation error: \`inputs\` must have less than ${this.model.maxLength} tokens. Given: ${longest}`);
    }
  }
}
