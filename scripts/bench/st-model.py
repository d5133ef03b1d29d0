#!/usr/bin/env python3
"""A random-weight BiomedBERT-base cross-encoder for the GPU benchmark, in both formats.

    python3 scripts/bench/st-model.py OUT_DIR [--vocab V] [--config C] [--seed S]

OUT_DIR/hf   Hugging Face BertForSequenceClassification (1 label) with a BertTokenizerFast:
             what sentence_transformers.CrossEncoder loads.
OUT_DIR/tce  the same weights exported by scripts/export.py: what our CrossEncoder loads.

Needs torch and transformers (the GPU machine has them; Debian's python3-torch has no
transformers, so CPU benchmarks build theirs with scripts/make-fixture-model.py instead).
Random weights are fine for speed; both sides score the very same weights, so their scores can
also be compared.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "tokenizer")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--vocab", default=os.path.join(FIXTURES, "biomedbert_vocab.txt"))
    parser.add_argument("--config", default=os.path.join(FIXTURES, "biomedbert_config.json"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import shutil

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    hf_dir = os.path.join(args.out, "hf")
    tce_dir = os.path.join(args.out, "tce")
    if os.path.exists(os.path.join(tce_dir, "model.pt")):
        print(json.dumps({"hf": hf_dir, "tce": tce_dir, "built": False}))
        return

    with open(args.config) as f:
        raw = json.load(f)
    raw.pop("architectures", None)
    config = BertConfig(**raw, num_labels=1, architectures=["BertForSequenceClassification"])
    torch.manual_seed(args.seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(hf_dir)
    # The tokenizer as a model directory has it: vocab.txt and tokenizer_config.json, read by
    # AutoTokenizer (BertTokenizerFast's constructor arguments differ between transformers 4 and
    # 5). BiomedBERT is uncased; 512 bounds truncation on both sides (the default is no limit).
    shutil.copyfile(args.vocab, os.path.join(hf_dir, "vocab.txt"))
    with open(os.path.join(hf_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    if len(tokenizer) != config.vocab_size or tokenizer.unk_token_id in tokenizer("cytochrome kinase")["input_ids"]:
        sys.exit(f"st-model.py: the tokenizer did not load {args.vocab} ({len(tokenizer)} tokens)")
    tokenizer.save_pretrained(hf_dir)

    export = os.path.join(ROOT, "scripts", "export.py")
    result = subprocess.run([sys.executable, export, hf_dir, tce_dir], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"st-model.py: export.py failed (exit {result.returncode})")
    print(json.dumps({"hf": hf_dir, "tce": tce_dir, "built": True, "export": json.loads(result.stdout.strip().splitlines()[-1])}))


if __name__ == "__main__":
    main()
