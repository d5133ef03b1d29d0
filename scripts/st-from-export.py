#!/usr/bin/env python3
"""Rebuild a sentence-transformers CrossEncoder save from a torch-cross-encoder model directory.

    python3 scripts/st-from-export.py MODEL_DIR OUT_DIR

MODEL_DIR is what scripts/export.py writes (model.pt, config.json, config_sentence_transformers.json,
tokenizer files). model.pt's parameters carry the Hugging Face names under the export wrapper's
`inner.` prefix, so the sequence-classification model is built from config.json and given those
weights in float32 (weights stored in float16 by --half-storage are upcast, as the package does at
load). The result, saved with CrossEncoder.save(), is the same model as the package runs, so that
sentence-transformers can score it: the evaluation and the tests compare the package with it.

Needs torch, transformers and sentence-transformers (the project's .venv). No network.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PREFIX = "inner."  # scripts/export.py wraps the model as `inner`
COPIED = ["config_sentence_transformers.json", "tokenizer.json", "vocab.txt", "tokenizer_config.json",
          "special_tokens_map.json"]


def rebuild(model_dir, out_dir):
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if not os.path.exists(os.path.join(model_dir, "model.pt")):
        # A model.pt2's weights are compiled into its code: rebuild from the TorchScript export.
        sys.exit(f"st-from-export.py: {model_dir} has no model.pt (a model.pt2 package cannot be turned back "
                 "into a save; export the model with --format torchscript as well)")
    traced = torch.jit.load(os.path.join(model_dir, "model.pt"), map_location="cpu")
    weights = {k[len(PREFIX):]: v.float() for k, v in traced.state_dict().items() if k.startswith(PREFIX)}
    config = AutoConfig.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_config(config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    # Non-persistent buffers (position ids) may be absent from either side; parameters may not.
    params = {n for n, _ in model.named_parameters()}
    lost = [n for n in missing if n in params]
    if lost or [n for n in unexpected if not n.endswith("_ids")]:
        sys.exit(f"st-from-export.py: model.pt does not match config.json: missing {lost}, unexpected {unexpected}")
    hf_dir = out_dir + ".hf"
    if os.path.exists(hf_dir):
        shutil.rmtree(hf_dir)
    model.eval().save_pretrained(hf_dir)
    for name in COPIED:
        if os.path.exists(os.path.join(model_dir, name)):
            shutil.copy(os.path.join(model_dir, name), os.path.join(hf_dir, name))
    with open(os.path.join(model_dir, "config.json")) as f:
        raw = json.load(f)
    # Keep the source's own config.json keys (sentence-transformers 4.x keeps its activation there).
    with open(os.path.join(hf_dir, "config.json")) as f:
        saved = json.load(f)
    for key in ("sentence_transformers", "sbert_ce_default_activation_function"):
        if key in raw:
            saved[key] = raw[key]
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(saved, f, indent=2)
    cross = CrossEncoder(hf_dir, device="cpu", local_files_only=True)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    cross.save(out_dir)
    shutil.rmtree(hf_dir)
    return out_dir


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(rebuild(sys.argv[1], sys.argv[2]))


if __name__ == "__main__":
    main()
