/**
 * The server's routes: text-embeddings-inference 1.x's for a reranker, plus the Cohere / Jina
 * rerank API. `open` routes need no API key (probes and the scraper, as TEI); HEAD is answered
 * wherever GET is; a known path with another method is 405.
 *
 *   GET  /health, /ping, /    200 while serving (empty body, as TEI), 503 while shutting down
 *   GET  /metrics             Prometheus text (metrics.ts)
 *   GET  /info                TEI's Info (info.ts)
 *   POST /rerank, /, /invocations   TEI rerank (/ and /invocations: TEI's default and SageMaker route)
 *   POST /predict             TEI predict
 *   POST /tokenize            TEI tokenize
 *   POST /v1/rerank, /v2/rerank     Cohere / Jina rerank (rerank-api.ts)
 */
import type { JsonObject } from './body';
import { rerankApi } from './rerank-api';
import type { ScoringRequest } from './scoring';
import type { RerankServer } from './server';
import { predict, rerank, tokenize } from './tei-routes';

export type Handler =
  | { kind: 'plain'; run: (server: RerankServer) => unknown }
  | { kind: 'scoring'; run: (body: JsonObject, request: ScoringRequest) => Promise<unknown> };

export interface Route {
  /** The metric label (a fixed set, so that scanners cannot grow the series). */
  label: string;
  open: boolean;
  methods: { GET?: Handler; POST?: Handler };
}

const health: Handler = { kind: 'plain', run: (server) => server.health() };
const scoring = (run: (body: JsonObject, request: ScoringRequest) => Promise<unknown>): Handler => ({ kind: 'scoring', run });

const ROUTES: Record<string, Route> = {
  '/health': { label: 'health', open: true, methods: { GET: health } },
  '/ping': { label: 'ping', open: true, methods: { GET: health } },
  '/metrics': { label: 'metrics', open: true, methods: { GET: { kind: 'plain', run: (server) => server.metricsText() } } },
  '/info': { label: 'info', open: false, methods: { GET: { kind: 'plain', run: (server) => server.info() } } },
  '/rerank': { label: 'rerank', open: false, methods: { POST: scoring(rerank) } },
  '/predict': { label: 'predict', open: false, methods: { POST: scoring(predict) } },
  '/tokenize': { label: 'tokenize', open: false, methods: { POST: scoring(tokenize) } },
  '/invocations': { label: 'invocations', open: false, methods: { POST: scoring(rerank) } },
  '/v1/rerank': { label: 'v1_rerank', open: false, methods: { POST: scoring((body, request) => rerankApi(body, request, 'v1')) } },
  '/v2/rerank': { label: 'v2_rerank', open: false, methods: { POST: scoring((body, request) => rerankApi(body, request, 'v2')) } },
};

/** GET / is a health probe and open; POST / reranks and needs the key: checked per method. */
const ROOT: Route = { label: 'root', open: false, methods: { GET: health, POST: scoring(rerank) } };

export function findRoute(path: string): Route | undefined {
  return path === '/' ? ROOT : ROUTES[path];
}

/** Whether `method` on `route` needs no API key. */
export function isOpen(route: Route, method: string): boolean {
  return route === ROOT ? method === 'GET' || method === 'HEAD' : route.open;
}
