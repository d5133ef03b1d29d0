#!/usr/bin/env python3
"""Real sentence-transformers CrossEncoder saves for the parity tests, and their reference scores.

Runs in a project environment with torch, transformers and sentence-transformers (.venv: ST 6 on
transformers 5; .venv-st41: ST 4.1 on transformers 4.51). No network: HF_HUB_OFFLINE is set.

  st_fixture.py build --out DIR --vocab vocab.txt --config config.json --num-labels N
                      [--activation default|identity|sigmoid|tanh] [--legacy-key] [--seed S]
      A small BERT (BiomedBERT's vocabulary and config keys, 2 layers of 64) with weights spread
      wider than BERT's initialisation (so that scores differ and rankings mean something), saved
      by CrossEncoder.save() into DIR/st, then exported by scripts/export.py into DIR/tce. With
      --legacy-key the activation is moved to config.json's sbert_ce_default_activation_function,
      as sentence-transformers before 4.0 stored it.

  st_fixture.py reference --requests requests.json --out out.json
      Runs each request with sentence_transformers.CrossEncoder on the CPU, in fp32 or under
      torch.autocast with bfloat16 (which casts each Linear's weight on every call):
        {"model": DIR/st, "kind": "predict", "pairs": [[q, d], ...] or [q, d],
         "activation": null|"identity", "apply_softmax": bool, "autocast": null|"bf16"}
        {"model": DIR/st, "kind": "rank", "query": q, "documents": [...], "top_k": k|null,
         "return_documents": bool}
      and writes {"versions": {...}, "results": [...]} in the same order; a request that
      sentence-transformers fails gives {"error": "..."}.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ACTIVATIONS = {
    "identity": "torch.nn.modules.linear.Identity",
    "sigmoid": "torch.nn.modules.activation.Sigmoid",
    "tanh": "torch.nn.modules.activation.Tanh",
}


def build(args):
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    with open(args.config) as f:
        real = json.load(f)
    keep = ["vocab_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_act", "pad_token_id", "model_type"]
    config = BertConfig(
        **{k: real[k] for k in keep if k in real},
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        num_labels=args.num_labels, architectures=["BertForSequenceClassification"],
    )
    torch.manual_seed(args.seed)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                continue
            # BERT's 0.02 makes every logit nearly equal; wider weights spread the scores.
            p.normal_(0.0, 0.2 if p.dim() > 1 else 0.05)
    hf_dir = os.path.join(args.out, "hf")
    st_dir = os.path.join(args.out, "st")
    shutil.rmtree(args.out, ignore_errors=True)
    model.save_pretrained(hf_dir)
    # The vocabulary goes in as a model directory has it (vocab.txt + tokenizer_config.json):
    # transformers 5 ignores BertTokenizerFast(vocab_file=...) and would give a 5-token vocabulary.
    shutil.copyfile(args.vocab, os.path.join(hf_dir, "vocab.txt"))
    with open(os.path.join(hf_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    if len(tokenizer) != config.vocab_size:
        sys.exit(f"st_fixture.py: the tokenizer has {len(tokenizer)} tokens, {args.vocab} has {config.vocab_size}")
    tokenizer.save_pretrained(hf_dir)

    kwargs = {"num_labels": args.num_labels, "device": "cpu"}
    if args.activation != "default":
        from sentence_transformers.util import import_from_string

        kwargs["activation_fn"] = import_from_string(ACTIVATIONS[args.activation])()
    CrossEncoder(hf_dir, **kwargs).save(st_dir)
    if args.legacy_key:
        move_to_legacy_key(st_dir, ACTIVATIONS[args.activation if args.activation != "default" else "sigmoid"])

    export = os.path.join(ROOT, "scripts", "export.py")
    result = subprocess.run([sys.executable, export, st_dir, os.path.join(args.out, "tce")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"st_fixture.py: export.py failed:\n{result.stderr[-3000:]}")
    print(result.stdout.strip().splitlines()[-1])


def move_to_legacy_key(st_dir, activation):
    config_file = os.path.join(st_dir, "config.json")
    with open(config_file) as f:
        config = json.load(f)
    config.pop("sentence_transformers", None)
    config["sbert_ce_default_activation_function"] = activation
    with open(config_file, "w") as f:
        json.dump(config, f, indent=2)
    st_config = os.path.join(st_dir, "config_sentence_transformers.json")
    if os.path.exists(st_config):
        with open(st_config) as f:
            settings = json.load(f)
        settings.pop("activation_fn", None)
        with open(st_config, "w") as f:
            json.dump(settings, f, indent=2)


def reference(args):
    import sentence_transformers
    import transformers
    from sentence_transformers import CrossEncoder

    with open(args.requests) as f:
        requests = json.load(f)
    results = []
    for request in requests:
        # A fresh model per request: sentence-transformers 4.1's predict(activation_fn=...) keeps
        # that activation for later calls, which would leak from one request into the next.
        model = CrossEncoder(request["model"], device="cpu")
        if request["kind"] == "predict":
            kwargs = {"batch_size": 16, "show_progress_bar": False, "convert_to_numpy": True}
            if request.get("activation") == "identity":
                kwargs["activation_fn"] = torch.nn.Identity()
            if request.get("apply_softmax"):
                kwargs["apply_softmax"] = True
            pairs = request["pairs"]
            single = len(pairs) == 2 and isinstance(pairs[0], str)
            autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=request.get("autocast") == "bf16")
            try:
                with autocast:
                        scores = model.predict(tuple(pairs) if single else [tuple(p) for p in pairs], **kwargs)
            except Exception as error:  # sentence-transformers before 5.1 fails on an empty list
                results.append({"error": f"{type(error).__name__}: {error}"})
                continue
            results.append({"scores": scores.tolist() if hasattr(scores, "tolist") else scores})
        else:
            ranked = model.rank(request["query"], request["documents"], top_k=request.get("top_k"),
                                return_documents=request.get("return_documents", False), batch_size=16,
                                show_progress_bar=False)
            results.append({"ranking": [{k: (float(v) if k == "score" else v) for k, v in r.items()} for r in ranked]})
    versions = {"sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
                "torch": torch.__version__}
    with open(args.out, "w") as f:
        json.dump({"versions": versions, "results": results}, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--vocab", required=True)
    b.add_argument("--config", required=True)
    b.add_argument("--num-labels", type=int, default=1)
    b.add_argument("--activation", choices=["default", *ACTIVATIONS], default="default")
    b.add_argument("--legacy-key", action="store_true")
    b.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("reference")
    r.add_argument("--requests", required=True)
    r.add_argument("--out", required=True)
    args = parser.parse_args()
    {"build": build, "reference": reference}[args.command](args)


if __name__ == "__main__":
    main()
