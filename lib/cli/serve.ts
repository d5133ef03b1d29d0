/** `serve`: the rerank server (lib/server) on a loaded model, until SIGTERM or SIGINT. */
import os from 'node:os';
import path from 'node:path';
import { CrossEncoder } from '../cross-encoder';
import { resolveServerOptions } from '../server/options';
import { RerankServer, type ServerOptions } from '../server/server';
import { flagErrors, integerFlag, type ParsedArgs, secondsFlag, UsageError } from './args';
import { loadOptions } from './model-options';

function serverOptions(values: ParsedArgs['values']): ServerOptions {
  const apiKey = typeof values['api-key'] === 'string' ? values['api-key'] : process.env.TCE_API_KEY || undefined;
  const options: ServerOptions = {
    maxConcurrentRequests: integerFlag('max-concurrent-requests', values['max-concurrent-requests']),
    maxClientBatchSize: integerFlag('max-client-batch-size', values['max-client-batch-size']),
    maxPayloadBytes: integerFlag('payload-limit', values['payload-limit']),
    apiKey,
    headersTimeoutMs: secondsFlag('headers-timeout', values['headers-timeout']),
    requestTimeoutMs: secondsFlag('request-timeout', values['request-timeout']),
    shutdownTimeoutMs: secondsFlag('shutdown-timeout', values['shutdown-timeout'], 0),
    maxWindowsPerRequest: integerFlag('max-windows-per-request', values['max-windows-per-request']),
    windowTokens: integerFlag('window-tokens', values['window-tokens']),
    maxConnections: integerFlag('max-connections', values['max-connections']),
    keepAliveTimeoutMs: secondsFlag('keep-alive-timeout', values['keep-alive-timeout']),
    ...(typeof values['model-id'] === 'string' ? { modelId: values['model-id'] } : {}),
    ...(typeof values['cors-allow-origin'] === 'string' ? { corsAllowOrigin: values['cors-allow-origin'].split(',').map((o) => o.trim()).filter(Boolean) } : {}),
  };
  // The server's own checks (one place for them), before the model loads, in the flags' names.
  try {
    resolveServerOptions(options);
  } catch (error) {
    throw flagErrors(error);
  }
  return options;
}

/**
 * SIGTERM and SIGINT, handled from before the model loads: as PID 1 in a container a signal
 * with no handler is ignored, so that a stop during a long load would wait for SIGKILL. The first
 * signal resolves `received`. A second ends the process at once: its handlers are removed and the
 * signal raised again, whose default action ends the process without waiting for anything (the
 * forward in progress is abandoned; the status is 128 + the signal's number). Where that default
 * action is ignored (PID 1 of a container), it exits with 1 instead, which waits for the forward
 * in progress to end.
 */
function watchSignals(say: (message: string, fields?: Record<string, unknown>) => void) {
  let first: NodeJS.Signals | null = null;
  let wake!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((resolve) => (wake = resolve));
  const handler = (signal: NodeJS.Signals) => {
    if (first) {
      say(`${signal} again: exiting now`);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      process.kill(process.pid, signal);
      // Still here: the default action is ignored (PID 1).
      setImmediate(() => process.exit(1));
      return;
    }
    first = signal;
    wake(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    received,
    /** The signal received so far, if any. */
    get signal() {
      return first;
    },
    stop() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** A shell's exit status for a process stopped by `signal`: 128 + its number (143 for SIGTERM). */
function signalStatus(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}

export async function serve({ values, positionals }: ParsedArgs): Promise<number> {
  const options = serverOptions(values);
  const port = integerFlag('port', values.port) ?? 8080;
  if (port < 0 || port > 65535) throw new UsageError(`--port must be from 0 to 65535, got ${port}`);
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  const json = values['json-output'] === true;
  const say = (message: string, fields: Record<string, unknown> = {}) => {
    if (json) process.stdout.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'INFO', message, ...fields })}\n`);
    else console.error(`torch-cross-encoder: ${message}`);
  };
  if (typeof values['api-key'] === 'string') {
    console.error('torch-cross-encoder: warning: --api-key is visible to every user of this machine (ps); set TCE_API_KEY instead');
  }
  const signals = watchSignals(say);
  try {
    let serving = false;
    // A load cannot be interrupted: a signal during it is answered once it is done.
    void signals.received.then((signal) => {
      if (!serving) say(`${signal} while starting: exiting once the model has loaded`, { signal });
    });
    const model = await CrossEncoder.load(positionals[0], loadOptions(values)).catch((error: unknown) => {
      throw flagErrors(error);
    });
    let server: RerankServer | null = null;
    try {
      if (!signals.signal) {
        server = new RerankServer(model, {
          ...options,
          modelId: options.modelId ?? path.basename(model.modelDir),
          ...(json ? { log: (record) => process.stdout.write(`${JSON.stringify(record)}\n`) } : {}),
        });
        const address = await server.listen(port, host).catch((error: Error) => {
          throw new Error(`cannot listen on ${host}:${port}: ${error.message}`);
        });
        if (!signals.signal) {
          serving = true;
          say(`serving ${model.modelDir} on ${model.device} at http://${address.address}:${address.port}`, { address: address.address, port: address.port, device: model.device });
        }
      }
      if (!serving) {
        // Stopped while starting: release what exists, and exit as the signal says.
        if (server) await server.close();
        const signal = signals.signal as NodeJS.Signals;
        say('stopped', { signal });
        return signalStatus(signal);
      }
      // Graceful shutdown (RerankServer.close()); a second signal ends the process at once (watchSignals).
      const signal = await signals.received;
      say(`${signal}: shutting down after the requests in flight`, { signal });
      await (server as RerankServer).close();
    } catch (error) {
      throw flagErrors(error);
    } finally {
      await model.dispose({ abort: true });
    }
    say('stopped');
    return 0;
  } finally {
    signals.stop();
  }
}
