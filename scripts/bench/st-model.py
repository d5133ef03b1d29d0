#!/usr/bin/env python3
"""A random-weight BiomedBERT-base cross-encoder for the benchmarks, in each model format.

    python3 scripts/bench/st-model.py OUT_DIR [--vocab V] [--config C] [--seed S]
                                      [--source HF_DIR] [--formats torchscript,pt2,...]

OUT_DIR/hf   Hugging Face BertForSequenceClassification (1 label) with a BertTokenizerFast:
             what sentence_transformers.CrossEncoder loads (or, with --source, that directory:
             e.g. a CrossEncoder save of the bundled model, scripts/st-from-export.py).
OUT_DIR/<format dir>  the same weights exported by scripts/export.py, one directory per format:
  torchscript    tce            model.pt (the default export)
  pt2            tce-pt2        model.pt2, --format pt2 --device cpu
  pt2-bf16       tce-pt2-bf16   model.pt2, --format pt2 --device cpu --precision bf16
  pt2-cuda-fp16  tce-pt2-cuda   model.pt2, --format pt2 --device cuda --precision fp16 (GPU machine)
Each is exported once; prints one JSON line: {"hf": ..., "tce": ..., "formats": {name: {"dir",
"file", "bytes", "exportSeconds", "compileSeconds", "maxAbsDiffVsEager"}}} (the export figures
are kept in <format dir>/tce-export.json, so a later run that finds the export reports them too).

Needs torch and transformers (the GPU machine has them; Debian's python3-torch has no
transformers, so CPU benchmarks that run on it build theirs with scripts/make-fixture-model.py).
Random weights are fine for speed; every side scores the very same weights, so their scores can
also be compared.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "tokenizer")
FORMATS = {
    "torchscript": ("tce", "model.pt", []),
    "pt2": ("tce-pt2", "model.pt2", ["--format", "pt2", "--device", "cpu"]),
    "pt2-bf16": ("tce-pt2-bf16", "model.pt2", ["--format", "pt2", "--device", "cpu", "--precision", "bf16"]),
    "pt2-cuda-fp16": ("tce-pt2-cuda", "model.pt2", ["--format", "pt2", "--device", "cuda", "--precision", "fp16"]),
}


def build_hf(args, hf_dir):
    import shutil

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--vocab", default=os.path.join(FIXTURES, "biomedbert_vocab.txt"))
    parser.add_argument("--config", default=os.path.join(FIXTURES, "biomedbert_config.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", help="an existing Hugging Face / CrossEncoder directory to export instead of a random model")
    parser.add_argument("--formats", default="torchscript", help=f"comma-separated: {', '.join(FORMATS)}")
    args = parser.parse_args()
    wanted = [f for f in args.formats.split(",") if f]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        sys.exit(f"st-model.py: unknown format(s) {unknown}; known: {list(FORMATS)}")

    hf_dir = os.path.abspath(args.source) if args.source else os.path.join(args.out, "hf")
    if not args.source and not os.path.exists(os.path.join(hf_dir, "config.json")):
        build_hf(args, hf_dir)

    export = os.path.join(ROOT, "scripts", "export.py")
    formats = {}
    for name in wanted:
        folder, file, flags = FORMATS[name]
        out = os.path.join(args.out, folder)
        entry = {"dir": out, "file": os.path.join(out, file)}
        # The export's own figures, kept beside it for later runs that find it built.
        figures = os.path.join(out, "tce-export.json")
        if os.path.exists(entry["file"]) and os.path.exists(figures):
            with open(figures) as f:
                entry.update(json.load(f))
        if not os.path.exists(entry["file"]):
            started = time.perf_counter()
            result = subprocess.run([sys.executable, export, hf_dir, out, *flags], stdout=subprocess.PIPE, text=True)
            if result.returncode != 0:
                sys.exit(f"st-model.py: export.py {' '.join(flags)} failed (exit {result.returncode})")
            exported = json.loads(result.stdout.strip().splitlines()[-1])
            entry["exportSeconds"] = round(time.perf_counter() - started, 1)
            entry["compileSeconds"] = exported.get("compile_seconds")
            entry["maxAbsDiffVsEager"] = exported.get("max_abs_diff_vs_eager")
            with open(figures, "w") as f:
                json.dump({k: entry[k] for k in ("exportSeconds", "compileSeconds", "maxAbsDiffVsEager")}, f)
        entry["bytes"] = os.path.getsize(entry["file"])
        formats[name] = entry
    print(json.dumps({"hf": hf_dir, "tce": os.path.join(args.out, "tce"), "formats": formats}))


if __name__ == "__main__":
    main()
