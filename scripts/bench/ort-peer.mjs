// The onnxruntime-node side of the benchmarks, as a Node user would wire it: Hugging Face
// `tokenizers` encodings padded to the longest in the batch, one session.run per batch.
import { require } from './common.mjs';

const ort = require('onnxruntime-node');

/** Runs one batch of `tokenizers` encodings; returns the logits (one per pair) and the width. */
export async function ortForward(session, encodings) {
  const width = Math.max(...encodings.map((e) => e.getIds().length));
  const shape = [encodings.length, width];
  const ids = new BigInt64Array(encodings.length * width);
  const mask = new BigInt64Array(encodings.length * width);
  const types = new BigInt64Array(encodings.length * width);
  encodings.forEach((e, r) => {
    const eIds = e.getIds();
    const eTypes = e.getTypeIds();
    for (let t = 0; t < eIds.length; t++) {
      ids[r * width + t] = BigInt(eIds[t]);
      mask[r * width + t] = 1n;
      types[r * width + t] = BigInt(eTypes[t]);
    }
  });
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, shape),
    attention_mask: new ort.Tensor('int64', mask, shape),
    token_type_ids: new ort.Tensor('int64', types, shape),
  });
  return { logits: out.logits.data, width };
}
