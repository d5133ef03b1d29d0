/** `serve`: the rerank server (lib/server) on a loaded model, until SIGTERM or SIGINT. */
import path from 'node:path';
import { CrossEncoder } from '../cross-encoder';
import { SERVER_DEFAULTS } from '../server/options';
import { RerankServer, type ServerOptions } from '../server/server';
import { flagErrors, integerFlag, type ParsedArgs, secondsFlag, UsageError } from './args';
import { loadOptions } from './model-options';

function serverOptions(values: ParsedArgs['values']): ServerOptions {
  const headersTimeoutMs = secondsFlag('headers-timeout', values['headers-timeout']);
  const requestTimeoutMs = secondsFlag('request-timeout', values['request-timeout']);
  if ((headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs) > (requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs)) {
    throw new UsageError(`--headers-timeout (${(headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs) / 1000} s) must not be longer than --request-timeout (${(requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs) / 1000} s), which covers the headers too`);
  }
  const apiKey = typeof values['api-key'] === 'string' ? values['api-key'] : process.env.TCE_API_KEY || undefined;
  return {
    maxConcurrentRequests: integerFlag('max-concurrent-requests', values['max-concurrent-requests']),
    maxClientBatchSize: integerFlag('max-client-batch-size', values['max-client-batch-size']),
    maxPayloadBytes: integerFlag('payload-limit', values['payload-limit']),
    apiKey,
    headersTimeoutMs,
    requestTimeoutMs,
    shutdownTimeoutMs: secondsFlag('shutdown-timeout', values['shutdown-timeout'], 0),
    ...(typeof values['model-id'] === 'string' ? { modelId: values['model-id'] } : {}),
    ...(typeof values['cors-allow-origin'] === 'string' ? { corsAllowOrigin: values['cors-allow-origin'].split(',').map((o) => o.trim()).filter(Boolean) } : {}),
  };
}

export async function serve({ values, positionals }: ParsedArgs): Promise<number> {
  const options = serverOptions(values);
  const port = integerFlag('port', values.port) ?? 8080;
  if (port < 0 || port > 65535) throw new UsageError(`--port must be from 0 to 65535, got ${port}`);
  const json = values['json-output'] === true;
  const say = (message: string, fields: Record<string, unknown> = {}) => {
    if (json) process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', message, ...fields })}\n`);
    else console.error(`torch-cross-encoder: ${message}`);
  };
  if (typeof values['api-key'] === 'string') {
    console.error('torch-cross-encoder: warning: --api-key is visible to every user of this machine (ps); set TCE_API_KEY instead');
  }
  const model = await CrossEncoder.load(positionals[0], loadOptions(values)).catch((error: unknown) => {
    throw flagErrors(error);
  });
  let server: RerankServer;
  try {
    server = new RerankServer(model, {
      ...options,
      modelId: options.modelId ?? path.basename(model.modelDir),
      ...(json ? { log: (record) => process.stdout.write(`${JSON.stringify(record)}\n`) } : {}),
    });
  } catch (error) {
    await model.dispose();
    throw flagErrors(error);
  }
  let address;
  try {
    address = await server.listen(port, typeof values.host === 'string' ? values.host : '127.0.0.1');
  } catch (error) {
    await model.dispose();
    throw new Error(`cannot listen on ${typeof values.host === 'string' ? values.host : '127.0.0.1'}:${port}: ${(error as Error).message}`);
  }
  say(`serving ${model.modelDir} on ${model.device} at http://${address.address}:${address.port}`, { address: address.address, port: address.port, device: model.device });
  // Graceful shutdown (RerankServer.close()); a second signal exits at once.
  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        say(`${signal} again: exiting now`);
        process.exit(1);
      }
      say(`${signal}: shutting down after the requests in flight`, { signal });
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await model.dispose({ abort: true });
  say('stopped');
  return 0;
}
