/**
 * Every command of the `torch-cross-encoder` CLI with its arguments and options (default and
 * description each): the one table that both the parser (args.ts) and the help (help.ts) read,
 * so that `--help` lists exactly what is accepted.
 */
import { DEFAULT_WINDOW_TOKENS } from '../long-documents';
import { SERVER_DEFAULTS } from '../server/options';

export interface OptionSpec {
  name: string;
  short?: string;
  /** A boolean is a switch; any other option takes a value, shown as `value` in the help. */
  type: 'string' | 'boolean';
  value?: string;
  /** The default as the help shows it (omitted: none / off). */
  default?: string;
  description: string;
}

export interface ArgumentSpec {
  name: string;
  required: boolean;
  description: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  args: ArgumentSpec[];
  options: OptionSpec[];
  /** Paragraphs after the options. */
  notes?: string;
}

/**
 * Where the help points for more: the docs shipped in the package, as a path from the project that
 * installed it (where npx runs), and the repository's README.
 */
export const DOCS_DIR = 'node_modules/torch-cross-encoder/docs';
export const REPOSITORY_README = 'https://github.com/torch-cross-encoder/torch-cross-encoder#readme';

/** Bytes a JSONL line may hold at most; a longer one is a bad line (never buffered whole). */
export const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

const MODEL_DIR: ArgumentSpec = { name: 'MODEL_DIR', required: true, description: 'a model directory made by `export`, or biomed-minilm-ce for the ready-made model (npm install @torch-cross-encoder/biomed-minilm-ce)' };

const MODEL_OPTIONS: OptionSpec[] = [
  { name: 'device', type: 'string', value: 'auto|cpu|cuda|cuda:N', default: 'auto', description: 'where the model runs; auto: the first CUDA device if any, else the CPU' },
  { name: 'precision', type: 'string', value: 'fp32|fp16|bf16|auto', default: 'fp16 on CUDA, fp32 on CPU', description: 'compute precision' },
  { name: 'max-length', type: 'string', value: 'N', default: "the model's", description: 'tokens a pair is truncated to' },
  { name: 'batch-size', type: 'string', value: 'N', default: '32 on CPU, 1024 on CUDA', description: 'pairs a forward at most' },
  { name: 'max-batch-tokens', type: 'string', value: 'N', default: '1024 on CPU, 16384 on CUDA', description: 'tokens a forward at most, padding included' },
  { name: 'cpu-threads', type: 'string', value: 'N', default: 'the CPUs of its affinity mask, capped by its cgroup CPU quota', description: "libtorch threads for the model's forwards on the CPU" },
];

const MAX_LINE_BYTES: OptionSpec = {
  name: 'max-line-bytes', type: 'string', value: 'N', default: String(DEFAULT_MAX_LINE_BYTES),
  description: 'a longer input line is a bad line (it is never held in memory whole); at most the longest string this Node can hold (buffer.constants.MAX_STRING_LENGTH)',
};

/** The window of --long-documents max|mean|first (score, rank) and of long_documents requests (serve). */
const WINDOW_TOKENS: OptionSpec = {
  name: 'window-tokens', type: 'string', value: 'N', default: String(DEFAULT_WINDOW_TOKENS),
  description: `document tokens a window holds at most (and what fits beside the query in --max-length); small windows find evidence that a long one drowns (${DOCS_DIR}/LONG-DOCUMENTS.md)`,
};

/** How a pair longer than --max-length is scored (docs/LONG-DOCUMENTS.md), for score and rank. */
const LONG_DOCUMENT_OPTIONS: OptionSpec[] = [
  { name: 'long-documents', type: 'string', value: 'truncate|max|mean|first', default: 'truncate', description: `truncate: a pair longer than --max-length is cut; max|mean|first: a document longer than the window (--window-tokens) is scored by windows, taking their max, mean or the first (${DOCS_DIR}/LONG-DOCUMENTS.md)` },
  WINDOW_TOKENS,
  { name: 'stride', type: 'string', value: 'N', default: 'a quarter of the window', description: 'tokens consecutive windows share at most (with --long-documents max|mean|first)' },
];

const HELP: OptionSpec = { name: 'help', short: 'h', type: 'boolean', description: 'show this help and exit' };

export const COMMANDS: CommandSpec[] = [
  {
    name: 'info',
    summary: 'what this machine runs on: libtorch, core, CUDA devices, the threads models use',
    args: [],
    options: [{ name: 'json', type: 'boolean', description: 'the same facts as JSON, for scripts' }, HELP],
  },
  {
    name: 'score',
    summary: 'score {"query","document"} or [q, d] JSONL lines into {"line","score"} lines, in input order',
    args: [MODEL_DIR, { name: 'IN.jsonl', required: false, description: 'the pairs; - or absent: stdin' }],
    options: [
      { name: 'output', short: 'o', type: 'string', value: 'OUT.jsonl', default: 'stdout', description: 'where the scores go; never the input file' },
      { name: 'skip-bad', type: 'boolean', description: 'write {"line","error"} for a bad line and go on (default: stop at it)' },
      { name: 'raw-scores', type: 'boolean', description: 'logits instead of the activated scores' },
      { name: 'chunk', type: 'string', value: 'N', default: '1024', description: 'pairs a predict() call; two chunks are in flight' },
      ...LONG_DOCUMENT_OPTIONS,
      MAX_LINE_BYTES,
      ...MODEL_OPTIONS,
      HELP,
    ],
    notes: 'Blank lines are skipped; a UTF-8 byte order mark on line 1 is ignored. Ctrl-C stops it with the lines written so far complete and in order (exit 130). If the output fails (disk full, I/O error) it says how many lines reached it, and no partial last line is left in a file.',
  },
  {
    name: 'rank',
    summary: 'rank documents for a query, best first ({"corpusId","score","text"?} lines)',
    args: [MODEL_DIR, { name: 'DOCS.jsonl', required: true, description: 'one document a line: "text" or {"text"|"document": ...}; - is stdin' }],
    options: [
      { name: 'query', short: 'q', type: 'string', value: 'Q', description: 'the query (required)' },
      { name: 'top-k', type: 'string', value: 'K', default: 'all', description: 'keep the best K' },
      { name: 'return-documents', type: 'boolean', description: "include each document's text" },
      { name: 'raw-scores', type: 'boolean', description: 'logits instead of the activated scores' },
      ...LONG_DOCUMENT_OPTIONS,
      { name: 'return-passage', type: 'boolean', description: 'include each document\'s best window as "passage": {start, end, text} (with --long-documents max|mean|first)' },
      { name: 'output', short: 'o', type: 'string', value: 'OUT.jsonl', default: 'stdout', description: 'where the results go' },
      MAX_LINE_BYTES,
      ...MODEL_OPTIONS,
      HELP,
    ],
  },
  {
    name: 'serve',
    summary: `a text-embeddings-inference compatible rerank server (${DOCS_DIR}/SERVER.md)`,
    args: [MODEL_DIR],
    options: [
      { name: 'port', short: 'p', type: 'string', value: 'PORT', default: '8080', description: 'TCP port (0: any free one)' },
      { name: 'host', type: 'string', value: 'ADDRESS', default: '127.0.0.1', description: 'address to listen on (0.0.0.0: every interface, as in a container)' },
      { name: 'max-concurrent-requests', type: 'string', value: 'N', default: String(SERVER_DEFAULTS.maxConcurrentRequests), description: 'pairs (texts) being scored at once, over all requests, as TEI counts inputs; a request that would go over is answered 429' },
      { name: 'max-client-batch-size', type: 'string', value: 'N', default: String(SERVER_DEFAULTS.maxClientBatchSize), description: 'texts (or pairs) a request at most; more are answered 422' },
      { name: 'payload-limit', type: 'string', value: 'BYTES', default: String(SERVER_DEFAULTS.maxPayloadBytes), description: 'request body size at most; larger is answered 413' },
      { name: 'api-key', type: 'string', value: 'KEY', default: 'env TCE_API_KEY', description: 'require `Authorization: Bearer KEY` (probes and /metrics stay open); prefer the environment variable, which `ps` does not show' },
      { name: 'cors-allow-origin', type: 'string', value: 'ORIGIN,...', default: '* (any, as TEI)', description: 'origins browsers may call from (CORS), comma-separated' },
      { name: 'model-id', type: 'string', value: 'NAME', default: 'the model folder name', description: 'the model name /info and /v1/rerank report' },
      { name: 'json-output', type: 'boolean', description: 'log one JSON line per request (and the start and stop) on stdout' },
      { name: 'headers-timeout', type: 'string', value: 'SECONDS', default: String(SERVER_DEFAULTS.headersTimeoutMs / 1000), description: 'time a client has to send its headers (408 after)' },
      { name: 'request-timeout', type: 'string', value: 'SECONDS', default: String(SERVER_DEFAULTS.requestTimeoutMs / 1000), description: "time a request may take from its arrival to its answer: 408 while the client is still sending it; once queued or scoring it is stopped at the next batch and answered 503; a /tokenize answer not read by then is cut off" },
      { name: 'max-windows-per-request', type: 'string', value: 'N', default: String(SERVER_DEFAULTS.maxWindowsPerRequest), description: 'pairs one request may have scored, each window of a long document counted (long_documents); more are answered 413 before any scoring' },
      { ...WINDOW_TOKENS, description: `document tokens a window holds at most for requests with long_documents max|mean|first that send no window_tokens (${DOCS_DIR}/LONG-DOCUMENTS.md)` },
      { name: 'max-connections', type: 'string', value: 'N', default: String(SERVER_DEFAULTS.maxConnections), description: 'open client connections at most; the first request on a connection beyond them is answered 503 and the connection closed (keep it below `ulimit -n`)' },
      { name: 'keep-alive-timeout', type: 'string', value: 'SECONDS', default: String(SERVER_DEFAULTS.keepAliveTimeoutMs / 1000), description: 'time an idle keep-alive connection is kept open' },
      { name: 'shutdown-timeout', type: 'string', value: 'SECONDS', default: String(SERVER_DEFAULTS.shutdownTimeoutMs / 1000), description: 'on SIGTERM/SIGINT, time the requests being scored have to finish before they are aborted' },
      ...MODEL_OPTIONS,
      HELP,
    ],
    notes: 'On SIGTERM or SIGINT it stops accepting connections, closes idle and half-sent ones, answers the requests being scored (aborting them after --shutdown-timeout), then exits 0. A signal while the model loads ends it once the load is done, with 128 + the signal\'s number (143 for SIGTERM). A second signal ends it at once, abandoning the forward in progress (status 128 + the signal\'s number; where the signal\'s default action is ignored, as for PID 1 in a container, it exits 1 once the forward in progress is done). Timeouts are at most 2147483.647 seconds.',
  },
  {
    name: 'build-core',
    summary: 'build the torch core for the libtorch found (or --libtorch DIR)',
    args: [],
    options: [{ name: 'libtorch', type: 'string', value: 'DIR', default: 'discovery (README)', description: 'the libtorch folder to build for' }, HELP],
  },
  {
    name: 'export',
    summary: 'make a model directory from a sentence-transformers save (runs scripts/export.py)',
    args: [
      { name: 'SOURCE', required: true, description: 'a sentence-transformers CrossEncoder save (folder or hub name)' },
      { name: 'OUT', required: true, description: 'the model directory to write' },
    ],
    options: [{ name: 'python', type: 'string', value: 'PY', default: 'env TCE_PYTHON, else the first of $VIRTUAL_ENV/bin/python and python3 that has torch and transformers', description: 'the Python with torch and transformers' }, HELP],
    notes: `Arguments after \`--\` go to export.py as they are (its options: ${DOCS_DIR}/EXPORT.md).`,
  },
  {
    name: 'help',
    summary: 'this overview, or a command\'s help',
    args: [{ name: 'COMMAND', required: false, description: 'the command to explain' }],
    options: [HELP],
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The flag a library option name stands for, so that errors speak the user's language. */
export const FLAG_OF_OPTION: Record<string, string> = {
  device: '--device', precision: '--precision', maxLength: '--max-length', batchSize: '--batch-size',
  maxBatchTokens: '--max-batch-tokens', cpuThreads: '--cpu-threads', topK: '--top-k',
  maxConcurrentRequests: '--max-concurrent-requests', maxClientBatchSize: '--max-client-batch-size',
  maxPayloadBytes: '--payload-limit', apiKey: '--api-key', headersTimeoutMs: '--headers-timeout',
  requestTimeoutMs: '--request-timeout', shutdownTimeoutMs: '--shutdown-timeout', corsAllowOrigin: '--cors-allow-origin',
  maxWindowsPerRequest: '--max-windows-per-request', maxConnections: '--max-connections', keepAliveTimeoutMs: '--keep-alive-timeout',
  longDocuments: '--long-documents', windowTokens: '--window-tokens', stride: '--stride', returnPassage: '--return-passage',
};
