#!/usr/bin/env python3
"""The causal-LM benchmark's model and its sentence-transformers peer (npm run bench:causal).

Runs in the project's .venv (sentence-transformers 6.3, transformers 5). No network.

  causal-model.py build --out DIR [--max-seq-length 512] [--seed S]
      DIR/st: a CrossEncoder save of a Qwen3-Reranker-0.6B-size random-weight decoder (Qwen3 config:
      hidden 1024, 28 layers, 16 heads, 8 KV heads, head_dim 128, intermediate 3072, vocab 151,669,
      tied embeddings) as Transformer(text-generation) -> LogitScore("yes", "no"), with the
      Qwen3-Reranker-style chat template of test/helpers/causal_fixture.py and its byte-level BPE
      tokenizer (trained offline on the fixture texts: ~1,200 tokens, not Qwen's own vocabulary, so
      rows of the embedding beyond it are never read). Weights: transformers' own random init.

  causal-model.py peer --model DIR/st --pairs PAIRS.json
      sentence-transformers' CrossEncoder.predict on the pairs, one call per "round" line read from
      stdin (so the Node benchmark can interleave its rounds with ours); each answered with one JSON
      line {seconds, scores (no activation: the raw logit differences), maxRssKiB}. Loads the model once, on the CPU, in fp32.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The fixture's tokenizer trainer and chat template (one definition for the tests and the benchmark).
sys.path.insert(0, os.path.join(ROOT, "test", "helpers"))
from causal_fixture import QWEN3_TEMPLATE, save_logit_score_reranker, train_tokenizer  # noqa: E402

# Qwen3-Reranker-0.6B's config.json, as published.
QWEN3_06B = dict(hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                 intermediate_size=3072, vocab_size=151669, max_position_embeddings=40960, rope_theta=1000000.0,
                 rms_norm_eps=1e-6, tie_word_embeddings=True)


def build(args):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    shutil.rmtree(args.out, ignore_errors=True)
    hf_dir = os.path.join(args.out, "hf")
    st_dir = os.path.join(args.out, "st")
    tokenizer = train_tokenizer(hf_dir, QWEN3_TEMPLATE, 32768)
    torch.manual_seed(args.seed)
    config = Qwen3Config(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None, **QWEN3_06B)
    model = Qwen3ForCausalLM(config).eval()
    model.save_pretrained(hf_dir)
    del model
    save_logit_score_reranker(hf_dir, st_dir, tokenizer, args.max_seq_length, "yes", "no")
    shutil.rmtree(hf_dir)
    print(st_dir)


def peer(args):
    import sentence_transformers
    from sentence_transformers import CrossEncoder

    with open(args.pairs) as f:
        pairs = [tuple(p) for p in json.load(f)]
    model = CrossEncoder(args.model, device="cpu")
    print(json.dumps({"ready": True, "sentenceTransformers": sentence_transformers.__version__, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "maxSeqLength": model.max_seq_length,
                      "dtype": str(next(model.parameters()).dtype)}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            continue
        started = time.perf_counter()
        scores = model.predict(pairs, batch_size=args.batch_size, activation_fn=torch.nn.Identity(), show_progress_bar=False,
                               convert_to_numpy=True)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "scores": [float(s) for s in scores.reshape(-1)],
                          "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--max-seq-length", type=int, default=512)
    b.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("peer")
    p.add_argument("--model", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    {"build": build, "peer": peer}[args.command](args)


if __name__ == "__main__":
    main()
