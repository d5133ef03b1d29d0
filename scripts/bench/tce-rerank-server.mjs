#!/usr/bin/env node
// Our rerank server for bench:server (the same RerankServer that `torch-cross-encoder serve` runs),
// with shared batches on or off.
//   node scripts/bench/tce-rerank-server.mjs MODEL_DIR PORT share|separate [OPTIONS_JSON]
//   (PORT 0: a free one, sent to the parent; OPTIONS_JSON: more RerankServer options)
import path from 'node:path';
import { require, root } from './common.mjs';

const { CrossEncoder } = require(path.join(root, 'dist', 'index.js'));
const { RerankServer } = require(path.join(root, 'dist', 'server', 'server.js'));
const [dir, port, mode, options] = process.argv.slice(2);

const model = await CrossEncoder.load(dir, { device: 'cpu', shareBatches: mode === 'share' });
const server = new RerankServer(model, { maxClientBatchSize: 64, ...(options ? JSON.parse(options) : {}) });
const address = await server.listen(Number(port));
process.send?.({ port: address.port });
process.on('SIGTERM', async () => {
  await server.close();
  await model.dispose();
  process.exit(0);
});
