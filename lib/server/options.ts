/**
 * The rerank server's options, their defaults (text-embeddings-inference's where TEI has the same
 * option) and their checks. The CLI's `serve` flags map one to one onto these (lib/cli/commands.ts).
 */
import { TceError } from '../errors';
import { integerOption } from '../validate';

export interface ServerOptions {
  /**
   * Pairs being scored at once, over all requests (TEI's default, 512). As TEI, which takes one
   * permit per input: a request whose pairs would take the pairs in flight over this is answered
   * 429 (`Model is overloaded`), and so is a request of more pairs than this at all.
   */
  maxConcurrentRequests?: number;
  /** Texts (or pairs) in one request at most; more are answered 422 (TEI's default, 32). */
  maxClientBatchSize?: number;
  /**
   * Pairs the engine may score for one request at most, windows of long documents counted one
   * each (default 256): a request whose planned windows are more is answered 413 before any
   * forward runs. Each window also takes a maxConcurrentRequests permit.
   */
  maxWindowsPerRequest?: number;
  /**
   * Document tokens a long-document window holds for requests that do not say (`window_tokens`),
   * as predict()'s windowTokens (default: its default, DEFAULT_WINDOW_TOKENS). Only requests with
   * long_documents 'max', 'mean' or 'first' have windows.
   */
  windowTokens?: number;
  /**
   * Open client connections at most (default 512). A connection beyond it has its first request
   * answered 503 (`connection: close`) and is closed; the connections already open are untouched.
   */
  maxConnections?: number;
  /** Milliseconds an idle keep-alive connection is kept open (default 65 s; at most MAX_TIMER_MS). */
  keepAliveTimeoutMs?: number;
  /** Request body size at most, in bytes; larger is answered 413 (TEI's default, 2 MB). */
  maxPayloadBytes?: number;
  /**
   * When set, every route but the probes and the scraper (/health, /ping, GET /, /metrics) needs
   * `Authorization: Bearer <apiKey>` (else 401), as TEI.
   */
  apiKey?: string;
  /** The name /info reports (default: the model directory). */
  modelId?: string;
  /**
   * Milliseconds a client has to send a request's headers (default 10 s; at most MAX_TIMER_MS,
   * and at most requestTimeoutMs): a connection that sends nothing, or trickles its headers, is
   * answered 408 and closed.
   */
  headersTimeoutMs?: number;
  /**
   * Milliseconds a request may take from its arrival to its answer (default 30 s; Node's own
   * default is 300 s; at most MAX_TIMER_MS): a client still sending its request then is answered
   * 408 and closed; a request still queued or being scored is stopped at the next batch and
   * answered 503; a /tokenize answer the client has not read by then is cut off. A request is
   * counted against maxConcurrentRequests only once its body is read, so a slow body never holds
   * a permit.
   */
  requestTimeoutMs?: number;
  /**
   * On close(): milliseconds the requests being scored have to finish (default 25 s, so that the
   * server is done before Kubernetes' default terminationGracePeriodSeconds of 30 ends in
   * SIGKILL; 0 to MAX_TIMER_MS); then they are aborted (503) and every connection is closed.
   */
  shutdownTimeoutMs?: number;
  /**
   * Origins a browser may call from (CORS), e.g. ['https://app.example']; default ['*'], any, as
   * TEI's --cors-allow-origin.
   */
  corsAllowOrigin?: string[];
  /**
   * Called once per answered request with its log record (the CLI's --json-output). If it throws,
   * the error is reported as a process warning (TCE_SERVER_LOG) and the server goes on.
   */
  log?: (record: RequestLogRecord) => void;
}

/** One answered request, as --json-output writes it (one JSON line each). */
export interface RequestLogRecord {
  timestamp: string;
  level: 'INFO' | 'WARN' | 'ERROR';
  method: string;
  path: string;
  status: number;
  /** Milliseconds from the request's arrival to its response. */
  duration_ms: number;
  /** Pairs scored (scoring routes), windows of long documents counted one each. */
  pairs?: number;
  /** The error's message for a 4xx or 5xx. */
  error?: string;
  /** The client closed the connection before its answer was sent (the request was aborted). */
  client_gone?: boolean;
}

/**
 * The longest timeout, in milliseconds, that Node's timers keep (2^31 - 1, about 24.8 days): a
 * longer one would fire after 1 ms.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** The options that are timeouts in milliseconds, bounded by MAX_TIMER_MS. */
const TIMEOUTS: ReadonlySet<string> = new Set(['headersTimeoutMs', 'requestTimeoutMs', 'shutdownTimeoutMs', 'keepAliveTimeoutMs']);

export const SERVER_DEFAULTS = {
  maxConcurrentRequests: 512,
  maxClientBatchSize: 32,
  maxWindowsPerRequest: 256,
  maxConnections: 512,
  maxPayloadBytes: 2_000_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  shutdownTimeoutMs: 25_000,
  // Node closes an idle keep-alive connection after 5 s, which races with a client that reuses
  // it just then (ECONNRESET). Outlast the usual 60 s idle timeout of proxies and clients.
  keepAliveTimeoutMs: 65_000,
} as const;

export type ResolvedServerOptions = { -readonly [K in keyof typeof SERVER_DEFAULTS]: number } & Pick<ServerOptions, 'apiKey' | 'modelId' | 'log' | 'windowTokens'> & { corsAllowOrigin: string[] };

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') throw new TceError('TCE_INVALID_OPTION', 'server options must be an object');
  const resolved: ResolvedServerOptions = { ...SERVER_DEFAULTS, corsAllowOrigin: ['*'] };
  for (const name of Object.keys(SERVER_DEFAULTS) as Array<keyof typeof SERVER_DEFAULTS>) {
    const value = options[name];
    if (value === undefined) continue;
    // The shutdown grace may be 0 (abort at once); every other limit must let something through.
    const min = name === 'shutdownTimeoutMs' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min || (TIMEOUTS.has(name) && value > MAX_TIMER_MS)) {
      const range = TIMEOUTS.has(name) ? `from ${min} to ${MAX_TIMER_MS} (ms)` : `>= ${min}`;
      throw new TceError('TCE_INVALID_OPTION', `${name} must be an integer ${range}, got ${JSON.stringify(value)}`);
    }
    resolved[name] = value;
  }
  // Node refuses a headers timeout above the request timeout (the whole request, headers included).
  // The message names no values, so that the CLI can say it in its flags and seconds.
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new TceError('TCE_INVALID_OPTION', 'headersTimeoutMs must not be longer than requestTimeoutMs, which covers the headers too');
  }
  if (options.apiKey !== undefined) {
    if (typeof options.apiKey !== 'string' || options.apiKey === '') throw new TceError('TCE_INVALID_OPTION', 'apiKey must be a non-empty string');
    resolved.apiKey = options.apiKey;
  }
  if (options.corsAllowOrigin !== undefined) {
    const origins = options.corsAllowOrigin;
    if (!Array.isArray(origins) || origins.length === 0 || origins.some((o) => typeof o !== 'string' || o === '')) {
      throw new TceError('TCE_INVALID_OPTION', 'corsAllowOrigin must be a non-empty array of origins (or ["*"])');
    }
    resolved.corsAllowOrigin = [...origins];
  }
  // The library's own check of the option it stands for.
  if (options.windowTokens !== undefined) resolved.windowTokens = integerOption('windowTokens', options.windowTokens);
  if (options.modelId !== undefined) resolved.modelId = String(options.modelId);
  if (options.log !== undefined) {
    if (typeof options.log !== 'function') throw new TceError('TCE_INVALID_OPTION', 'log must be a function');
    resolved.log = options.log;
  }
  return resolved;
}
