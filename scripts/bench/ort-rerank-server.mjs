#!/usr/bin/env node
// The peer of bench:server: the rerank server a Node user would write today with onnxruntime-node
// and Hugging Face `tokenizers`: node:http, one session.run per request over its texts (padded to
// the longest), TEI's /rerank request and response.
//   node scripts/bench/ort-rerank-server.mjs MODEL_DIR PORT THREADS   (PORT 0: a free one, sent to the parent)
import http from 'node:http';
import path from 'node:path';
import { bertTokenizerJson, readVocab } from '../hf-bert-tokenizer.mjs';
import { require } from './common.mjs';
import { ortForward } from './ort-peer.mjs';

const ort = require('onnxruntime-node');
const { Tokenizer } = require('tokenizers');
const [dir, port, threads] = process.argv.slice(2);

const tokenizer = Tokenizer.fromString(JSON.stringify(bertTokenizerJson(readVocab(path.join(dir, 'vocab.txt')))));
tokenizer.setTruncation(512);
const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
  intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all',
});

async function rerank(query, texts) {
  const encodings = await Promise.all(texts.map((t) => tokenizer.encode(query, t)));
  const { logits } = await ortForward(session, encodings);
  return Array.from(logits, (logit, index) => ({ index, score: 1 / (1 + Math.exp(-logit)) })).sort((a, b) => b.score - a.score);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { query, texts } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const body = JSON.stringify(await rerank(query, texts));
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    } catch (error) {
      res.writeHead(500).end(JSON.stringify({ error: error.message }));
    }
  });
});
// Keep-alive connections outlive the slowest queueing a benchmark client sees between requests.
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => process.send?.({ port: server.address().port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
