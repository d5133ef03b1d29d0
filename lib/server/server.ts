/**
 * A rerank server over one loaded CrossEncoder, on node:http, that speaks text-embeddings-inference
 * 1.x's HTTP API (routes.ts lists the routes), hardened against clients that are slow or go away:
 *
 * - maxConcurrentRequests counts pairs being scored, as TEI counts inputs, a long document's
 *   windows one each (permits.ts); a request takes its permits only once its body is read and its
 *   windows are planned; a client has headersTimeoutMs to send its headers and requestTimeoutMs
 *   for its whole request, from arrival to answer: 408 while it is still sending, 503 (its work
 *   stopped at the next batch) once it is queued or being scored;
 * - a client that closes its connection aborts its request: no further forward runs for it;
 * - at most maxConnections connections are served; a connection beyond them has its first request
 *   answered 503 and is closed, and the others are left alone;
 * - /tokenize answers are written as the client reads them (scoring.ts: StreamedAnswer), so a
 *   client that does not read holds a bounded buffer, not its whole answer;
 * - CORS as TEI: any origin unless corsAllowOrigin says otherwise (cors.ts);
 * - close() stops accepting, closes idle and half-sent connections at once, lets the requests being
 *   scored finish for up to shutdownTimeoutMs, then aborts them (503) and closes every connection.
 *
 * Concurrent requests share the model's forwards (its scheduler), so many small requests still
 * fill the device.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { CrossEncoder } from '../cross-encoder';
import { checkApiKey } from './auth';
import { isPreflight, setCorsHeaders } from './cors';
import { parseJsonObject, readBody } from './body';
import { HttpError, toHttpError } from './http-error';
import { type Labels, readLabels, serverInfo } from './info';
import { ServerMetrics } from './metrics';
import { type RequestLogRecord, type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from './options';
import { findRoute, isOpen, type Route } from './routes';
import { PairPermits } from './permits';
import { failureCause, ScoringRequest, StreamedAnswer } from './scoring';

export type { RequestLogRecord, ServerOptions } from './options';

/** A connection's state, for the shutdown: whether a request on it is being served (body read). */
interface Connection {
  busy: number;
}

/**
 * Node's own answers to a client error (what it writes when no 'clientError' listener is set):
 * the server listens to record the status a client was sent (408 for a request not received in
 * time) in the logs and metrics, so it writes them itself.
 */
const CLIENT_ERROR_ANSWERS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large'],
};

/** The 503 a connection beyond maxConnections gets for its first request. */
const TOO_MANY_CONNECTIONS = 'too many connections: the server serves at most maxConnections (--max-connections) at once; retry later';

/** Node's check of the header and request timeouts runs on this interval (its default is 30 s). */
function checkingInterval(options: ResolvedServerOptions): number {
  return Math.max(10, Math.min(30_000, Math.floor(Math.min(options.headersTimeoutMs, options.requestTimeoutMs) / 4)));
}

/** Resolves once `response` has drained its buffer, closed, or `signal` aborted. */
function drained(response: http.ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      response.off('drain', finish);
      response.off('close', finish);
      signal.removeEventListener('abort', finish);
      resolve();
    };
    response.on('drain', finish);
    response.on('close', finish);
    signal.addEventListener('abort', finish);
  });
}

/**
 * `work`, or its signal's reason as soon as it aborts for a client still there (timeout,
 * shutdown): that client is answered at once, while the work stops at its next batch and gives
 * its permits back then. For a client that left, the work's own end is awaited (nobody is waiting
 * for an answer, and its end is when its pairs stop).
 */
function answerable<T>(work: Promise<T>, signal: AbortSignal, clientGone: () => boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      if (!clientGone()) reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class RerankServer {
  readonly server: http.Server;
  readonly metrics: ServerMetrics;
  private readonly options: ResolvedServerOptions;
  private readonly labels: Labels;
  private readonly connections = new Map<Socket, Connection>();
  /** Connections beyond maxConnections: their first request is answered 503, then they close. */
  private readonly refused = new Set<Socket>();
  /** The status Node's own answer gave a connection (408 for a request not received in time). */
  private readonly clientErrors = new WeakMap<Socket, number>();
  /** Scoring requests being served (bodies read), each with the controller that stops it. */
  private readonly scoring = new Map<AbortController, Promise<void>>();
  /** maxConcurrentRequests' permits, one per pair being scored. */
  private readonly permits: PairPermits;
  private closing: Promise<void> | null = null;

  constructor(private readonly model: CrossEncoder, options: ServerOptions = {}) {
    this.options = resolveServerOptions(options);
    this.labels = readLabels(model.modelDir, model.numLabels);
    this.metrics = new ServerMetrics(model);
    this.permits = new PairPermits(this.options.maxConcurrentRequests);
    this.server = http.createServer({
      headersTimeout: this.options.headersTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      connectionsCheckingInterval: checkingInterval(this.options),
    }, (request, response) => {
      // handle() answers every error it expects; anything else is a bug of ours, answered 500
      // (or the connection dropped if the answer had begun), never an unhandled rejection.
      this.handle(request, response).catch((error: unknown) => {
        process.emitWarning(`rerank server: ${(error as Error)?.stack ?? String(error)}`, { code: 'TCE_SERVER_ERROR' });
        if (!response.headersSent && !response.destroyed) this.send(response, 500, { error: 'internal server error', error_type: 'Backend' });
        else response.destroy();
      });
    });
    this.server.keepAliveTimeout = this.options.keepAliveTimeoutMs;
    this.server.on('connection', (socket: Socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      if (this.connections.size >= this.options.maxConnections) {
        // Refused with an HTTP answer to its first request (handle()), never a reset: a client
        // that sends nothing is closed by the headers timeout as any other.
        this.refused.add(socket);
        this.metrics.refusedConnections.inc();
        socket.once('close', () => this.refused.delete(socket));
        return;
      }
      this.connections.set(socket, { busy: 0 });
      socket.once('close', () => this.connections.delete(socket));
    });
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const [status, text] = CLIENT_ERROR_ANSWERS[error.code ?? ''] ?? [400, 'Bad Request'];
      if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
        socket.destroy();
        return;
      }
      this.clientErrors.set(socket, status);
      socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    });
  }

  /** Scoring requests being served now (bodies read, answers not yet sent). */
  get inFlightRequests(): number {
    return this.scoring.size;
  }

  /** Pairs being scored now, over all requests: what maxConcurrentRequests bounds. */
  get inFlightPairs(): number {
    return this.permits.inFlight;
  }

  /** Open client connections. */
  get openConnections(): number {
    return this.connections.size;
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
   * Graceful shutdown: stops accepting connections; closes idle connections and those whose
   * request is not fully sent; answers the requests being scored (new requests on their
   * connections get 503), aborting those still running after shutdownTimeoutMs; resolves once
   * every connection is closed. The model stays loaded.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const [socket, connection] of this.connections) {
        if (connection.busy === 0) socket.destroy();
      }
      for (const socket of this.refused) socket.destroy();
      const grace = setTimeout(() => {
        for (const controller of this.scoring.keys()) controller.abort(new HttpError(503, 'Unhealthy', 'the server is shutting down'));
        // The aborted requests answer 503 at once; then nothing is left to wait for.
        void Promise.allSettled(this.scoring.values()).then(() => this.server.closeAllConnections());
      }, this.options.shutdownTimeoutMs);
      grace.unref();
      this.server.once('close', () => clearTimeout(grace));
    });
    return this.closing;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const arrived = process.hrtime.bigint();
    const socket = request.socket;
    const connection = this.connections.get(socket);
    const path = (request.url ?? '/').split('?')[0];
    const route = findRoute(path);
    const log: Partial<RequestLogRecord> = {};
    let status = 200;
    let busy = false;
    response.on('finish', () => {
      // While shutting down, each connection closes once its answer is out. An answer sent while
      // closing says `connection: close`, and Node ends the connection itself (its own 'finish'
      // listener runs first); one whose headers went out before gets a FIN here. Never
      // destroy(): with unread input left on the socket that is a reset, which can make the
      // client lose the answer.
      if (this.closing && !socket.writableEnded && !socket.destroyed) socket.end();
    });
    const preflight = isPreflight(request);
    setCorsHeaders(request, response, this.options.corsAllowOrigin, preflight);
    try {
      if (this.refused.has(socket)) {
        request.resume();
        throw new HttpError(503, 'Overloaded', TOO_MANY_CONNECTIONS, { connection: 'close' });
      }
      if (preflight && route) {
        this.send(response, 200, '');
        return;
      }
      if (!route) throw new HttpError(404, 'NotFound', `no route ${request.method} ${path}; see GET /info and the README for the routes`);
      // HEAD is answered wherever GET is (Node sends the headers only).
      const method = request.method === 'HEAD' && route.methods.GET ? 'GET' : request.method ?? '';
      const handler = route.methods[method as keyof Route['methods']];
      if (!handler) {
        const allowed = Object.keys(route.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
        throw new HttpError(405, 'MethodNotAllowed', `${request.method} is not allowed on ${path}; allowed: ${allowed}`, { allow: allowed });
      }
      if (!isOpen(route, method) && this.options.apiKey) checkApiKey(request.headers, this.options.apiKey);
      if (handler.kind === 'plain') {
        if (connection) connection.busy++;
        busy = true;
        const result = await handler.run(this);
        this.send(response, 200, result);
        return;
      }
      // A scoring request: its body is read first, so a slow client holds no permit meanwhile.
      const body = parseJsonObject(await readBody(request, this.options.maxPayloadBytes));
      if (connection) connection.busy++;
      busy = true;
      status = await this.score(handler.run, body, request, response, log, arrived);
    } catch (error) {
      const failure = toHttpError(error);
      // What the client was sent: Node's own answer when it answered (a request not received in
      // time is 408 whatever the body reader saw), else ours.
      status = this.clientErrors.get(socket) ?? failure.status;
      log.error = failure.message;
      if (failure.status === 401) response.setHeader('www-authenticate', 'Bearer');
      for (const [name, value] of Object.entries(failure.headers)) response.setHeader(name, value);
      this.send(response, failure.status, { error: failure.message, error_type: failure.type });
    } finally {
      if (busy && connection) connection.busy--;
      this.metrics.http.inc({ route: route?.label ?? 'other', status: String(status) });
      this.writeLog({
        timestamp: new Date().toISOString(),
        level: status >= 500 ? 'ERROR' : status >= 400 ? 'WARN' : 'INFO',
        method: request.method ?? '',
        path: route ? path : '(unknown)',
        status,
        duration_ms: Number(process.hrtime.bigint() - arrived) / 1e6,
        ...log,
      });
    }
  }

  /** Hands a record to the log option; a log that throws is reported, and serving goes on. */
  private writeLog(record: RequestLogRecord): void {
    if (!this.options.log) return;
    try {
      this.options.log(record);
    } catch (error) {
      process.emitWarning(`rerank server: the log option threw: ${(error as Error)?.message ?? String(error)}`, { code: 'TCE_SERVER_LOG' });
    }
  }

  /**
   * Serves one scoring request whose body is read: abort on disconnect and past the request
   * timeout, metrics (its handler takes the permits). Returns the status sent.
   */
  private async score(
    run: (body: Record<string, unknown>, request: ScoringRequest) => Promise<unknown>,
    body: Record<string, unknown>,
    request: http.IncomingMessage,
    response: http.ServerResponse,
    log: Partial<RequestLogRecord>,
    arrived: bigint,
  ): Promise<number> {
    const started = process.hrtime.bigint();
    const controller = new AbortController();
    const { options } = this;
    const scoring = new ScoringRequest(
      this.model, this.labels, options.modelId ?? this.model.modelDir, options.maxClientBatchSize, options.maxWindowsPerRequest, options.windowTokens,
      controller.signal, this.metrics, this.permits,
    );
    // The client going away (its connection closed before the answer) stops the request's work.
    let clientGone = false;
    const onClose = () => {
      if (response.writableFinished) return;
      clientGone = true;
      controller.abort(new HttpError(499, 'Unhealthy', 'the client closed the connection'));
    };
    response.on('close', onClose);
    // requestTimeoutMs counts from the request's arrival: what is left of it bounds queueing,
    // scoring and (for a streamed answer) writing.
    let timedOut = false;
    const left = options.requestTimeoutMs - Number(process.hrtime.bigint() - arrived) / 1e6;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new HttpError(503, 'Overloaded', `the request took longer than the request timeout of ${options.requestTimeoutMs} ms (--request-timeout), queueing and scoring included; it was stopped`));
    }, Math.max(0, left));
    let done!: () => void;
    this.scoring.set(controller, new Promise<void>((resolve) => (done = resolve)));
    this.metrics.inFlight.inc();
    try {
      if (this.closing) throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
      // The handler takes a permit per pair it scores, windows counted (ScoringRequest.run):
      // 413 over maxWindowsPerRequest, 429 when the pairs in flight would go over
      // maxConcurrentRequests.
      const result = await answerable(run(body, scoring), controller.signal, () => clientGone);
      if (controller.signal.aborted) throw controller.signal.reason;
      if (scoring.counted) {
        this.metrics.requestCount.inc({ method: scoring.method });
        this.metrics.requestSuccess.inc({ method: scoring.method });
        this.metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      }
      const elapsed = String(Math.round(Number(process.hrtime.bigint() - started) / 1e6));
      response.setHeader('x-compute-type', this.model.device === 'cpu' ? 'cpu' : 'gpu');
      response.setHeader('x-compute-time', elapsed);
      response.setHeader('x-total-time', elapsed);
      if (result instanceof StreamedAnswer) {
        const complete = await this.stream(response, result, controller.signal);
        if (!complete) log.error = `the answer was cut off: ${(controller.signal.reason as Error | undefined)?.message ?? 'the connection closed'}`;
      } else {
        this.send(response, 200, result);
      }
      return 200;
    } catch (error) {
      const failure = toHttpError(error);
      const { cause, always } = clientGone
        ? { cause: 'dropped' as const, always: false }
        : timedOut ? { cause: 'timeout' as const, always: true } : failureCause(error, failure.status);
      if (scoring.counted) this.metrics.requestCount.inc({ method: scoring.method });
      if (scoring.counted || always) this.metrics.requestFailure.inc({ err: cause });
      if (clientGone) {
        log.client_gone = true;
        throw new HttpError(499, 'Unhealthy', 'the client closed the connection; its request was aborted');
      }
      throw error;
    } finally {
      clearTimeout(timer);
      scoring.releaseHeld();
      log.pairs = scoring.pairs;
      response.off('close', onClose);
      this.metrics.inFlight.dec();
      this.scoring.delete(controller);
      done();
    }
  }

  /**
   * Writes a streamed answer piece by piece, each once the one before has drained to the socket,
   * so that what a connection buffers is bounded by one piece and the socket's high-water mark.
   * Resolves true once all is written, false if the signal (timeout, shutdown, client gone) cut
   * it off (the connection is then destroyed: the answer cannot be completed).
   */
  private async stream(response: http.ServerResponse, answer: StreamedAnswer, signal: AbortSignal): Promise<boolean> {
    response.writeHead(200, { 'content-type': 'application/json', ...(this.closing ? { connection: 'close' } : {}) });
    for (const piece of answer.pieces()) {
      if (signal.aborted || response.destroyed) break;
      if (!response.write(piece)) await drained(response, signal);
    }
    if (signal.aborted || response.destroyed) {
      response.destroy();
      return false;
    }
    response.end();
    return true;
  }

  /** The health answer: 200 while serving, 503 once shutting down (TEI answers with no body). */
  health(): string {
    if (this.closing) throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
    return '';
  }

  info(): unknown {
    return serverInfo(this.model, this.labels, this.options);
  }

  async metricsText(): Promise<{ contentType: string; text: string }> {
    this.metrics.observeBatches();
    return { contentType: this.metrics.registry.contentType, text: await this.metrics.registry.metrics() };
  }

  /** Writes one answer: a string as it is (text/plain), {contentType, text}, or JSON. */
  private send(response: http.ServerResponse, status: number, result: unknown): void {
    if (response.headersSent || response.destroyed) return;
    let text: string;
    let contentType = 'application/json';
    if (typeof result === 'string') {
      text = result;
      contentType = 'text/plain; charset=utf-8';
    } else if (result !== null && typeof result === 'object' && 'contentType' in result && 'text' in result) {
      ({ text, contentType } = result as { contentType: string; text: string });
    } else {
      text = JSON.stringify(result);
    }
    response.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(text),
      ...(this.closing ? { connection: 'close' } : {}),
    });
    response.end(text);
  }
}
