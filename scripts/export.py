#!/usr/bin/env python3
"""Export a cross-encoder to a torch-cross-encoder model directory.

    python3 scripts/export.py SOURCE OUT_DIR [--format torchscript|pt2] [--device cpu|cuda]
                              [--target-libtorch X.Y] [--attn sdpa|eager] [--precision fp32|fp16|bf16]
                              [--trace-length N] [--half-storage [all|embeddings]]

SOURCE is a sentence-transformers CrossEncoder directory, a Hugging Face model directory with a
sequence-classification head, or a hub id. A sentence-transformers save is exported as its own
module chain (modules.json: Transformer -> Pooling -> Dense -> LayerNorm -> ... -> scores, or a
causal LM -> LogitScore; scripts/export/, docs/EXPORT.md), and a module it cannot reproduce is
refused naming it. Runs in your own Python with torch and transformers (4.x or 5.x); no
sentence-transformers needed. OUT_DIR receives:
  model.pt                 (--format torchscript, the default) TorchScript trace:
                           forward(<input names>) with int64 [batch, seq] inputs -> (logits [batch, num_labels],),
                           traced in eval mode; runs on every libtorch the package supports, CPU and CUDA
  model.pt2                (--format pt2) AOTInductor package: torch.export with dynamic batch and
                           sequence (2 .. the model's positions), compiled ahead of time for one device
                           (--device) and one precision (--precision); needs PyTorch 2.6+ here and a
                           torch core for libtorch 2.6+ to run it
  config.json, config_sentence_transformers.json, sentence_bert_config.json, tokenizer files
  (tokenizer.json, vocab.txt, tokenizer_config.json, special_tokens_map.json, chat_template.jinja)
                           copied from SOURCE when it has them, so the activation (kept in
                           config_sentence_transformers.json by sentence-transformers 5 and later,
                           in config.json before) and the max length travel with the model
Options:
  --format torchscript|pt2 the model file to write (default torchscript); both can sit in one
                           directory (the loader's choice: docs/EXPORT.md)
  --device cpu|cuda        where to trace (torchscript: the trace runs on any device) or what to
                           compile for (pt2: the package runs only on that device type)
  --target-libtorch X.Y    the libtorch that will run the model: picks the attention it can run
                           (eager before 2.0, e.g. Debian's 1.13; SDPA from 2.0) and refuses a pt2
                           for a libtorch before 2.6
  --attn sdpa|eager        attention implementation (default: as --target-libtorch allows, else sdpa)
  --precision fp32|fp16|bf16
                           pt2 only: the precision the package computes in (fp16/bf16: the whole
                           model in that type, as sentence-transformers' half models; load it with the
                           same precision). TorchScript models are fp32 and run fp16/bf16 under autocast.
  --trace-length N         sequence length of the example traced or exported (default 64)
  --half-storage [all|embeddings]
                           torchscript only: store the weights (all, the default, or only the embedding
                           tables) in float16 (all: half the file size); the graph is traced in float32
                           and torch-cross-encoder upcasts the weights at load, so the model computes as
                           the float32 one with rounded weights. Refused if that moves any logit by more
                           than 1e-2 times the largest logit (at least 1) on the check inputs.
The model written is checked against the eager model on other batch sizes and lengths, with
padding, before it is written. Metadata (format, torch and transformers versions, num_labels,
input names, attention, the position table's rows, the head (tce_head: classifier, module-chain
or logit-score) and the padding the graph takes (tce_padding_side: right); for pt2 also device and
precision) is stored in the file: model.pt's extra/metadata.json, model.pt2's AOTInductor metadata.
"""
import argparse
import json
import os
import shutil
import sys
import warnings

# torch.jit's TracerWarnings about Python values the trace records as constants say nothing a user
# can act on: the trace is checked against the eager model on other shapes before it is written.
warnings.filterwarnings("ignore", message=r"(?s).*(might cause the trace to be incorrect|registered as constants in the trace)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_arch  # noqa: E402  (scripts/export_arch.py: what each architecture takes)
from export import load as chain_load, plan as chain_plan  # noqa: E402  (scripts/export/: module chains, causal LMs)

TOKENIZER_FILES = ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]
# sentence-transformers' own settings: 5.x and later keep the default activation (and 6.x the
# prompts) here; the Transformer module's (task, max_seq_length) in sentence_bert_config.json.
ST_FILES = ["config_sentence_transformers.json"]
TRANSFORMER_FILES = ["sentence_bert_config.json"]


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


def source_root(transformers, source):
    """SOURCE as a local directory: itself, or for a hub id that is a sentence-transformers save
    (it has modules.json), its downloaded snapshot; else the hub id (a Hugging Face model)."""
    if os.path.isdir(source) or not source_file(transformers, source, "modules.json"):
        return source
    from huggingface_hub import snapshot_download

    return snapshot_download(source)


def load_classifier(torch, transformers, source, attn):
    """(config, wrapped model, attention) of a Hugging Face sequence classifier. A model without
    a saved classification head is refused: transformers would initialise one at random."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(source)
    try:
        export_arch.family(config, decoders=False)  # an architecture export_arch does not know: before loading weights
    except export_arch.UnsupportedArchitecture as error:
        fail(str(error))
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            source, attn_implementation=attn, output_loading_info=True)
    except (TypeError, ValueError):
        # Older transformers without attn_implementation, or a model without SDPA support.
        model, info = AutoModelForSequenceClassification.from_pretrained(source, output_loading_info=True)
        attn = getattr(model.config, "_attn_implementation", None) or "eager"
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        fail(f"{source} has no saved weights for {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} "
             "(not a sequence classifier: a randomly initialised head would give arbitrary scores)")
    return model.config, export_arch.wrap(torch, model.eval()), attn


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
        for batch, length in [(3, 17), (8, min(128, max_len)), (2, export_arch.check_length(max_len))]:
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


# The check inputs (batch, length): batch 1 at the shortest length a package takes and a short
# one, ragged padding, and the longest sequence the model takes up to export_arch.CHECK_MAX_LENGTH
# (ModernBERT takes 8192 tokens, Qwen3 32768).
def check_shapes(max_len):
    return [(1, 2), (1, 5), (3, 17), (8, min(128, max_len)), (2, export_arch.check_length(max_len))]


def position_rows(model):
    """Rows of the model's absolute position-embedding table, or None (relative or rotary)."""
    for name, module in model.named_modules():
        if name.endswith("position_embeddings") and hasattr(module, "num_embeddings"):
            return int(module.num_embeddings)
    return None


def choose_attention(args):
    """The attention to export: what --target-libtorch runs (SDPA's operator is in libtorch 2.0
    and later, so 1.13 gets eager), else --attn, else sdpa."""
    target = tuple(int(x) for x in args.target_libtorch.split(".")[:2]) if args.target_libtorch else None
    if target is not None and target < (2, 0):
        if args.attn == "sdpa":
            fail(f"--attn sdpa cannot run on libtorch {args.target_libtorch} (SDPA needs 2.0+); use --attn eager")
        return "eager"
    return args.attn or "sdpa"


def check_against_eager(torch, run, wrapped, config, max_len, device, tolerance, what, hint):
    """The largest logit difference between `run` and the eager model over check_shapes; fails
    the export when it passes `tolerance` times the largest logit (at least 1)."""
    worst = 0.0
    with torch.no_grad():
        for batch, length in check_shapes(max_len):
            inputs = export_arch.make_inputs(torch, config, batch, length, batch * 7919 + length, device)
            eager = wrapped(*inputs)[0].float()
            got = run(inputs)[0].float()
            if got.shape != eager.shape:
                fail(f"{what} returns shape {tuple(got.shape)} where eager returns {tuple(eager.shape)} (batch {batch}, length {length})")
            diff = (got - eager).abs().max().item()
            worst = max(worst, diff)
            if not diff <= tolerance * max(1.0, eager.abs().max().item()):
                fail(f"{what} differs from eager by {diff:g} at batch {batch}, length {length}; {hint}")
    return worst


def export_torchscript(torch, args, config, wrapped, max_len, metadata):
    """model.pt: the trace (optionally frozen, or with half storage), checked against eager."""
    with torch.no_grad():
        example = export_arch.make_inputs(torch, config, 2, min(args.trace_length, max_len), 0, args.device)
        # torch.jit.freeze + optimize_for_inference was measured on the CPU (docs/EXPORT.md):
        # no faster than the plain trace, and CPU-only, so the trace stays as it is.
        traced = torch.jit.trace(wrapped, example, check_trace=False)
    metadata["max_abs_diff_vs_eager"] = check_against_eager(
        torch, lambda inputs: traced(*inputs), wrapped, config, max_len, args.device, 1e-4, "trace", "try --attn eager")
    if args.half_storage:
        traced, half_worst = store_half(torch, traced, wrapped, config, max_len, args.device, args.half_storage)
        metadata["half_storage_max_abs_logit_diff"] = half_worst
    metadata["stored_dtype"] = {None: "float32", "all": "float16", "embeddings": "float16 embeddings, float32 rest"}[args.half_storage]
    traced.save(os.path.join(args.out, "model.pt"), _extra_files={"metadata.json": json.dumps(metadata)})


# The shortest sequence a .pt2 takes: torch.export specialises a dimension whose size is 0 or 1,
# so its dynamic sequence dimension starts at 2 (the core refuses a shorter batch, as it refuses
# one longer than tce_max_sequence).
MIN_SEQUENCE = 2


def export_pt2(torch, args, config, wrapped, max_len, metadata):
    """model.pt2: torch.export with dynamic batch and sequence, compiled by AOTInductor for
    args.device, checked against eager before it replaces any model.pt2 in OUT_DIR."""
    import tempfile
    import time

    if not hasattr(torch._inductor, "aoti_compile_and_package"):
        fail(f"--format pt2 needs PyTorch 2.6 or later (this is {torch.__version__})")
    names = export_arch.input_names(config)
    # Example sizes of at least 2: torch.export specialises a dimension whose example is 0 or 1.
    example = export_arch.make_inputs(torch, config, 2, min(max(args.trace_length, 2), max_len), 0, args.device)
    batch = torch.export.Dim("batch", min=1)
    seq = torch.export.Dim("seq", min=MIN_SEQUENCE, max=max_len)
    started = time.perf_counter()
    with torch.no_grad():
        # Keyword inputs: the package's call spec then names them, and the loader feeds them so.
        program = torch.export.export(wrapped, (), kwargs=dict(zip(names, example)),
                                      dynamic_shapes={name: {0: batch, 1: seq} for name in names})
    # AOTInductor metadata holds strings only; lib/torchscript-archive.ts reads them back.
    strings = {
        "tce_format": "pt2",
        "tce_torch_version": metadata["torch_version"],
        "tce_transformers_version": metadata["transformers_version"],
        "tce_num_labels": str(metadata["num_labels"]),
        "tce_input_names": ",".join(names),
        "tce_attn_implementation": metadata["attn_implementation"],
        "tce_precision": args.precision,
        "tce_head": metadata["tce_head"],
        "tce_padding_side": metadata["tce_padding_side"],
    }
    for key in ("true_token_id", "false_token_id"):
        if metadata.get(key) is not None:
            strings[f"tce_{key}"] = str(metadata[key])
    # The longest sequence the package takes: its shape guards are not checked at run time, so the
    # core refuses a longer batch itself (native/core/aoti_runner.cc).
    strings["tce_max_sequence"] = str(max_len)
    strings["tce_min_sequence"] = str(MIN_SEQUENCE)
    if metadata.get("max_positions") is not None:
        strings["tce_max_positions"] = str(metadata["max_positions"])
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        package = os.path.join(scratch, "model.pt2")
        torch._inductor.aoti_compile_and_package(
            program, package_path=package, inductor_configs={"aot_inductor.metadata": strings})
        metadata["compile_seconds"] = round(time.perf_counter() - started, 1)
        compiled = torch._inductor.aoti_load_package(package)
        tolerance = 1e-4 if args.precision == "fp32" else 1e-2
        metadata["max_abs_diff_vs_eager"] = check_against_eager(
            torch, lambda inputs: compiled(**dict(zip(names, inputs))), wrapped, config, max_len, args.device,
            tolerance, "compiled package", "export with --format torchscript")
        os.replace(package, os.path.join(args.out, "model.pt2"))
    metadata["device"] = args.device.split(":")[0]
    metadata["precision"] = args.precision
    metadata["max_sequence"] = max_len


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--format", default="torchscript", choices=["torchscript", "pt2"],
                        help="model.pt (TorchScript, default) or model.pt2 (AOTInductor package)")
    parser.add_argument("--device", default="cpu",
                        help="torchscript: device to trace on (the trace runs on any device); pt2: the device it runs on")
    parser.add_argument("--target-libtorch", metavar="X.Y",
                        help="the libtorch that will run the model (1.13: eager attention, TorchScript only)")
    parser.add_argument("--attn", choices=["sdpa", "eager"],
                        help="attention implementation (default: what --target-libtorch runs, else sdpa)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"],
                        help="pt2 only: the precision the package computes in")
    parser.add_argument("--trace-length", type=int, default=64, help="sequence length of the example traced or exported")
    parser.add_argument("--half-storage", nargs="?", const="all", choices=["all", "embeddings"],
                        help="torchscript only: store weights (all, or the embedding tables) in float16, upcast to "
                             "float32 at load; checked against float32")
    args = parser.parse_args()
    if args.target_libtorch and not all(part.isdigit() for part in args.target_libtorch.split(".")[:2]):
        fail(f"--target-libtorch takes a version such as 1.13 or 2.6, got {args.target_libtorch!r}")
    if args.format == "pt2":
        if args.target_libtorch and tuple(int(x) for x in args.target_libtorch.split(".")[:2]) < (2, 6):
            fail(f"a pt2 package needs libtorch 2.6 or later to run, not {args.target_libtorch}; use --format torchscript")
        if args.half_storage:
            fail("--half-storage applies to --format torchscript only")
    elif args.precision != "fp32":
        fail("--precision applies to --format pt2; a TorchScript model is fp32 and runs fp16/bf16 under autocast")
    attn = choose_attention(args)

    torch, transformers = import_libraries()
    from transformers import AutoTokenizer

    # A sentence-transformers save is exported as its own module chain (modules.json); a plain
    # Hugging Face directory, or a chain of one sequence-classification Transformer, as a classifier.
    root = source_root(transformers, args.source)
    st_settings = {}
    settings_file = source_file(transformers, root, "config_sentence_transformers.json")
    if settings_file:
        with open(settings_file, encoding="utf-8") as f:
            st_settings = json.load(f)
    try:
        plan = chain_plan.read_plan(root, st_settings) if os.path.isdir(root) else None
        if plan is not None and plan.head != "classifier":
            config = chain_load.check_config(transformers, plan, root)  # before any weights load
    except chain_plan.ChainError as error:
        fail(str(error))
    model_dir = os.path.join(root, plan.transformer.path) if plan is not None else args.source
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.precision]
    if plan is None or plan.head == "classifier":
        head, extra = "classifier", {}
        config, wrapped, attn = load_classifier(torch, transformers, model_dir, attn)
        num_labels = config.num_labels
    else:
        head = plan.head
        try:
            wrapped, config, attn, num_labels, extra = chain_load.load(torch, transformers, plan, root, attn)
        except chain_plan.ChainError as error:
            fail(str(error))
    wrapped = wrapped.to(device=args.device, dtype=dtype).eval()
    max_len = export_arch.max_length(config)  # RoBERTa-style tables lose the rows before padding_idx + 1

    os.makedirs(args.out, exist_ok=True)
    metadata = {
        "format": args.format,
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "num_labels": num_labels,
        "input_names": export_arch.input_names(config),
        "source": args.source,
        "attn_implementation": attn,
        "max_positions": position_rows(wrapped),
        # What the graph computes (lib/ reads these): its head, the padding it is fed, and the
        # number of scores per pair as sentence-transformers derives it (a module chain's
        # config.json is its bare encoder's, whose num_labels means nothing).
        "tce_head": head,
        "tce_padding_side": "right",
        "tce_num_labels": num_labels,
        **extra,
    }
    if args.target_libtorch:
        metadata["target_libtorch"] = args.target_libtorch
    if args.format == "pt2":
        export_pt2(torch, args, config, wrapped, max_len, metadata)
    else:
        export_torchscript(torch, args, config, wrapped, max_len, metadata)

    # The source's own config.json keeps sentence-transformers' activation key verbatim.
    raw_config = source_file(transformers, model_dir, "config.json")
    if raw_config:
        shutil.copyfile(raw_config, os.path.join(args.out, "config.json"))
    else:
        config.save_pretrained(args.out)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.save_pretrained(args.out)
    for name in TOKENIZER_FILES + TRANSFORMER_FILES:
        found = source_file(transformers, model_dir, name)
        if found:
            shutil.copyfile(found, os.path.join(args.out, name))
    for name in ST_FILES:
        found = source_file(transformers, root, name)
        if found:
            shutil.copyfile(found, os.path.join(args.out, name))
    print(json.dumps({"out": os.path.abspath(args.out), **metadata}))


if __name__ == "__main__":
    main()
