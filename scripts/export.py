#!/usr/bin/env python3
"""Export a cross-encoder to a torch-cross-encoder model directory.

    python3 scripts/export.py SOURCE OUT_DIR [--device cpu|cuda] [--attn sdpa|eager] [--trace-length N]
                              [--half-storage [all|embeddings]]

SOURCE is a sentence-transformers CrossEncoder directory, a Hugging Face model directory with a
sequence-classification head, or a hub id. Runs in your own Python with torch and transformers
(4.x or 5.x). OUT_DIR receives:
  model.pt                 TorchScript trace: forward(input_ids, attention_mask, token_type_ids),
                           int64 [batch, seq] -> (logits [batch, num_labels],), traced in eval mode
  config.json, config_sentence_transformers.json, tokenizer files (tokenizer.json, vocab.txt,
  tokenizer_config.json, special_tokens_map.json)
                           copied from SOURCE when it has them, so the activation (kept in
                           config_sentence_transformers.json by sentence-transformers 5 and later,
                           in config.json before) and the max length travel with the model
Options:
  --device cpu|cuda        where to trace (default cpu; the trace runs on any device)
  --attn sdpa|eager        attention implementation to trace (default sdpa: fused kernels on GPU)
  --trace-length N         sequence length of the example traced (default 64)
  --half-storage [all|embeddings]
                           store the weights (all, the default, or only the embedding tables) in
                           float16 (all: half the file size); the graph is traced
                           in float32 and torch-cross-encoder upcasts the weights at load, so the
                           model computes as the float32 one with rounded weights. Refused if that
                           moves any logit by more than 1e-2 times the largest logit (at least 1)
                           on the check inputs.
The trace is checked against the eager model on other batch sizes and lengths, with padding,
before it is written. Metadata (torch and transformers versions, num_labels, input order) is
stored in the archive's extra files (extra/metadata.json).

A model traced by a newer PyTorch may not load in an older libtorch: export with the PyTorch
whose libtorch will run it (or an older one).
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_arch  # noqa: E402  (scripts/export_arch.py: what each architecture takes)

TOKENIZER_FILES = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]
# sentence-transformers' own settings: 5.x and later keep the default activation here.
ST_FILES = ["config_sentence_transformers.json"]


def fail(message):
    sys.exit(f"export.py: {message}")


def import_libraries():
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed in this Python (pip install torch).")
    try:
        import transformers
    except ImportError:
        fail("transformers is not installed in this Python (pip install transformers).")
    return torch, transformers


def source_file(transformers, source, name):
    """A file of SOURCE (local folder or hub id), or None."""
    if os.path.isdir(source):
        path = os.path.join(source, name)
        return path if os.path.exists(path) else None
    try:
        from transformers.utils import cached_file

        return cached_file(source, name, _raise_exceptions_for_missing_entries=False)
    except Exception:
        return None


def store_half(torch, traced, wrapped, config, max_len, device, scope):
    """The trace with float16 weights (all of them, or only the embedding tables' with scope
    "embeddings"), after checking that, upcast again as the loader does, it gives the float32
    logits within 1e-2 of their size (scores after a sigmoid move less)."""
    import io

    # A copy: the trace shares its parameters with the eager model, which the check runs.
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    half = torch.jit.load(buffer, map_location=device)
    if scope == "all":
        half = half.half()
    else:
        # The embedding tables are lookups: rounding them moves the output least, and the word
        # embeddings are half of a small model's parameters.
        for _, module in half.named_modules():
            if getattr(module, "original_name", "") == "Embedding":
                module.half()
    buffer = io.BytesIO()
    torch.jit.save(half, buffer)
    buffer.seek(0)
    upcast = torch.jit.load(buffer, map_location=device).float()
    worst = 0.0
    with torch.no_grad():
        for batch, length in [(3, 17), (8, min(128, max_len)), (2, max_len)]:
            inputs = export_arch.make_inputs(torch, config, batch, length, batch * 104729 + length, device)
            exact = wrapped(*inputs)[0].float()
            diff = (upcast(*inputs)[0].float() - exact).abs().max().item()
            # Relative to the logits' size, as the trace check: rounding every weight to 11 bits
            # moves a logit of 8 more than one of 0.5, and a sigmoid score far less.
            if diff > 1e-2 * max(1.0, exact.abs().max().item()):
                fail(f"float16 storage moves logits by {diff:g} (largest logit {exact.abs().max().item():g}) at batch "
                     f"{batch}, length {length}; export without --half-storage")
            worst = max(worst, diff)
    buffer.seek(0)
    return torch.jit.load(buffer, map_location=device), worst


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--device", default="cpu", help="device to trace on (default cpu; the trace runs on any device)")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"],
                        help="attention implementation to trace (sdpa: fused kernels on GPU; eager: plain matmuls)")
    parser.add_argument("--trace-length", type=int, default=64, help="sequence length of the example used to trace")
    parser.add_argument("--half-storage", nargs="?", const="all", choices=["all", "embeddings"],
                        help="store weights (all, or the embedding tables) in float16, upcast to float32 at load; "
                             "checked against float32")
    args = parser.parse_args()

    torch, transformers = import_libraries()
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    config = AutoConfig.from_pretrained(args.source)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(args.source, attn_implementation=args.attn)
    except (TypeError, ValueError):
        # Older transformers without attn_implementation, or a model without SDPA support.
        model = AutoModelForSequenceClassification.from_pretrained(args.source)
    model = model.to(args.device).eval()
    num_labels = model.config.num_labels

    wrapped = export_arch.wrap(torch, model)
    max_len = min(getattr(model.config, "max_position_embeddings", 512), 512)
    with torch.no_grad():
        example = export_arch.make_inputs(torch, model.config, 2, min(args.trace_length, max_len), 0, args.device)
        traced = torch.jit.trace(wrapped, example, check_trace=False)
        worst = 0.0
        for batch, length in [(1, 5), (3, 17), (8, min(128, max_len)), (2, max_len)]:
            inputs = export_arch.make_inputs(torch, model.config, batch, length, batch * 7919 + length, args.device)
            eager = wrapped(*inputs)[0].float()
            got = traced(*inputs)[0].float()
            if got.shape != eager.shape:
                fail(f"trace returns shape {tuple(got.shape)} where eager returns {tuple(eager.shape)} (batch {batch}, length {length})")
            diff = (got - eager).abs().max().item()
            worst = max(worst, diff)
            if diff > 1e-4 * max(1.0, eager.abs().max().item()):
                fail(f"trace differs from eager by {diff:g} at batch {batch}, length {length}; try --attn eager")

    half_worst = None
    if args.half_storage:
        traced, half_worst = store_half(torch, traced, wrapped, model.config, max_len, args.device, args.half_storage)

    os.makedirs(args.out, exist_ok=True)
    metadata = {
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "num_labels": num_labels,
        "input_names": export_arch.input_names(model.config),
        "source": args.source,
        "attn_implementation": args.attn,
        "max_abs_diff_vs_eager": worst,
        "stored_dtype": {None: "float32", "all": "float16", "embeddings": "float16 embeddings, float32 rest"}[args.half_storage],
    }
    if half_worst is not None:
        metadata["half_storage_max_abs_logit_diff"] = half_worst
    traced.save(os.path.join(args.out, "model.pt"), _extra_files={"metadata.json": json.dumps(metadata)})

    # The source's own config.json keeps sentence-transformers' activation key verbatim.
    raw_config = source_file(transformers, args.source, "config.json")
    if raw_config:
        shutil.copyfile(raw_config, os.path.join(args.out, "config.json"))
    else:
        config.save_pretrained(args.out)
    tokenizer = AutoTokenizer.from_pretrained(args.source)
    tokenizer.save_pretrained(args.out)
    for name in TOKENIZER_FILES + ST_FILES:
        found = source_file(transformers, args.source, name)
        if found:
            shutil.copyfile(found, os.path.join(args.out, name))
    print(json.dumps({"out": os.path.abspath(args.out), **metadata}))


if __name__ == "__main__":
    main()
