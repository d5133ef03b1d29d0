#!/usr/bin/env python3
"""Test fixtures for machines without transformers (Debian's python3-torch has none).

  make-fixture-model.py build --out DIR --vocab vocab.txt --num-labels N [--seed S] [--legacy-activation-key]
      Builds a small random-weight cross-encoder with BERT's architecture (the same module layout
      and arithmetic as transformers' BertForSequenceClassification) in plain torch, traces it,
      checks the trace against eager on other shapes, and writes a complete model directory:
      model.pt, weights.pt (the eager state dict), config.json, vocab.txt, tokenizer_config.json,
      special_tokens_map.json.

      With --inputs input_ids,attention_mask the graph takes only those two inputs (as DeBERTa-v3 and
      ModernBERT exports do; token types are all 0) and the metadata names them.

  make-fixture-model.py damage --file FILE --entry SUFFIX [--truncate | --zip64-wrap]
      Flips one byte in the data of the zip entry whose name ends with SUFFIX, leaving its CRC as
      it was (a file corrupted after it was written); with --truncate, cuts the file in half; with
      --zip64-wrap, replaces the archive's end records by zip64 ones (the 32-bit fields saturated,
      the count too) whose directory offset + size wraps past 2**64 to a small number.

  make-fixture-model.py fake-pt2 --out FILE [--device cpu|cuda]
      A zip laid out as an AOTInductor package (archive_format "pt2", metadata naming the device)
      without compiled code: what a core without AOTInductor, or the device check, sees first.

  make-fixture-model.py pt2 --model DIR --out FILE [--positional] [--metadata KEY=VALUE ...]
      Exports the eager module (weights.pt) as a CPU AOTInductor package taking its inputs by
      keyword, so that only the package's call spec names them (no tce_input_names metadata);
      with --positional, taking them positionally (an empty keyword dict in the call spec) and
      naming them in tce_input_names. --metadata records extra metadata strings.
      Needs PyTorch 2.6+ (the project's .venv), not Debian's.

  make-fixture-model.py simulate-newer --model DIR --out DIR2 --torch-version 2.99.0
      Copies a model directory and edits its model.pt the way a newer PyTorch's export differs for
      an older libtorch: the code calls an operator this libtorch lacks, and the metadata names the
      newer version. Tests use it for the "exported by a newer PyTorch" error.

  make-fixture-model.py onnx --model DIR --out model.onnx
      Exports the same weights (weights.pt) to ONNX, for benchmarks against onnxruntime.

  make-fixture-model.py expect --model DIR --ids ids.json --out expected.json
      Scores token ids (from an independent tokenizer) one pair at a time, without padding, with
      the eager module rebuilt from weights.pt: the reference our batched, padded scores must match.
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def split(self, x):
        b, l, _ = x.shape
        return x.view(b, l, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask_bias):
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim) + mask_bias
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        context = context.transpose(1, 2).reshape(x.shape)
        return self.norm(self.dense(context) + x)


class Layer(nn.Module):
    def __init__(self, hidden, heads, intermediate):
        super().__init__()
        self.attention = SelfAttention(hidden, heads)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, mask_bias):
        x = self.attention(x, mask_bias)
        return self.norm(self.output(nn.functional.gelu(self.intermediate(x))) + x)


class BertCrossEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.inputs = cfg.get("inputs", ["input_ids", "attention_mask", "token_type_ids"])
        h = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], h, padding_idx=cfg["pad_token_id"])
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], h)
        self.embedding_norm = nn.LayerNorm(h, eps=1e-12)
        self.register_buffer("position_ids", torch.arange(cfg["max_position_embeddings"]).unsqueeze(0), persistent=False)
        self.layers = nn.ModuleList(
            [Layer(h, cfg["num_attention_heads"], cfg["intermediate_size"]) for _ in range(cfg["num_hidden_layers"])]
        )
        self.pooler = nn.Linear(h, h)
        self.classifier = nn.Linear(h, cfg["num_labels"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.logits(input_ids, attention_mask, token_type_ids)

    def logits(self, input_ids, attention_mask, token_type_ids):
        seq_len = input_ids.shape[1]
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(self.position_ids[:, :seq_len])
            + self.token_type_embeddings(token_type_ids)
        )
        x = self.embedding_norm(x)
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return (self.classifier(pooled),)


class TwoInputs(nn.Module):
    """The model with the graph of an export that takes (input_ids, attention_mask) only."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.logits(input_ids, attention_mask, torch.zeros_like(input_ids))


def graph_of(model):
    return model if len(model.inputs) == 3 else TwoInputs(model).eval()


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def build(args):
    torch.manual_seed(args.seed)
    vocab = read_vocab(args.vocab)
    pad_id = vocab.index("[PAD]")
    cfg = {
        "vocab_size": len(vocab),
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "max_position_embeddings": args.max_position_embeddings,
        "type_vocab_size": 2,
        "pad_token_id": pad_id,
        "num_labels": args.num_labels,
        "inputs": args.inputs.split(","),
    }
    if cfg["inputs"] not in (["input_ids", "attention_mask", "token_type_ids"], ["input_ids", "attention_mask"]):
        sys.exit("--inputs: input_ids,attention_mask,token_type_ids or input_ids,attention_mask")
    if args.config:
        # The architecture of a real model (e.g. BiomedBERT-base's config.json), random weights.
        with open(args.config) as f:
            real = json.load(f)
        for key in ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                    "max_position_embeddings", "type_vocab_size"]:
            if key in real:
                cfg[key] = real[key]
    model = BertCrossEncoder(cfg).eval()
    with torch.no_grad():
        if args.init == "bert":
            # BERT's own initialisation (as transformers does it): what a real checkpoint's scale
            # looks like, for benchmarks.
            for module in model.modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    module.weight.normal_(0.0, 0.02)
                if isinstance(module, nn.Linear):
                    module.bias.zero_()
                if isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()
        else:
            for p in model.parameters():
                # Wider than BERT's 0.02 so that random scores spread out and orderings are meaningful.
                p.normal_(0.0, args.init_std)

    def example(batch, length):
        g = torch.Generator().manual_seed(batch * 1000 + length)
        ids = torch.randint(5, len(vocab), (batch, length), generator=g)
        mask = torch.ones(batch, length, dtype=torch.long)
        mask[0, length // 2:] = 0
        types = torch.zeros(batch, length, dtype=torch.long)
        types[:, length // 3:] = 1
        return ids, mask, types

    graph = graph_of(model)
    n = len(cfg["inputs"])
    with torch.no_grad():
        traced = torch.jit.trace(graph, example(2, 16)[:n])
        for batch, length in [(1, 5), (3, 40), (7, 9)]:
            inputs = example(batch, length)[:n]
            if not torch.allclose(traced(*inputs)[0], graph(*inputs)[0], atol=1e-5):
                sys.exit(f"trace differs from eager at batch={batch} length={length}")

    os.makedirs(args.out, exist_ok=True)
    metadata = {
        "torch_version": torch.__version__,
        "num_labels": args.num_labels,
        "input_names": cfg["inputs"],
        "max_positions": cfg["max_position_embeddings"],
        "exported_by": "scripts/make-fixture-model.py",
    }
    torch.jit.save(traced, os.path.join(args.out, "model.pt"), _extra_files={"metadata.json": json.dumps(metadata)})
    torch.save({"config": cfg, "state_dict": model.state_dict()}, os.path.join(args.out, "weights.pt"))

    labels = {str(i): f"LABEL_{i}" for i in range(args.num_labels)}
    activation = "torch.nn.modules.activation.Sigmoid" if args.num_labels == 1 else "torch.nn.modules.linear.Identity"
    config = {
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": cfg["hidden_size"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"],
        "intermediate_size": cfg["intermediate_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
        "pad_token_id": pad_id,
        "id2label": labels,
        "label2id": {v: int(k) for k, v in labels.items()},
    }
    if args.legacy_activation_key:
        config["sbert_ce_default_activation_function"] = activation
    else:
        config["sentence_transformers"] = {"activation_fn": activation, "version": "4.1.0"}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copyfile(args.vocab, os.path.join(args.out, "vocab.txt"))
    tokenizer_config = {
        "do_lower_case": True,
        "model_max_length": args.model_max_length,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
    }
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f, indent=2)
    with open(os.path.join(args.out, "special_tokens_map.json"), "w") as f:
        json.dump({k: tokenizer_config[k] for k in ["unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]}, f, indent=2)


def expect(args):
    model = load_eager(args.model)
    with open(args.ids) as f:
        pairs = json.load(f)
    logits = []
    with torch.no_grad():
        for pair in pairs:
            ids = torch.tensor([pair["ids"]], dtype=torch.long)
            types = torch.tensor([pair["typeIds"]], dtype=torch.long)
            mask = torch.ones_like(ids)
            if len(model.inputs) == 2:
                types = torch.zeros_like(ids)  # the graph has no token types: all segment 0
            logits.append(model(ids, mask, types)[0][0].tolist())
    with open(args.out, "w") as f:
        json.dump({"logits": logits}, f)


def load_eager(model_dir):
    saved = torch.load(os.path.join(model_dir, "weights.pt"))
    model = BertCrossEncoder(saved["config"]).eval()
    model.load_state_dict(saved["state_dict"])
    return model


def export_onnx(args):
    model = load_eager(args.model)
    example = (torch.randint(5, 100, (2, 16)), torch.ones(2, 16, dtype=torch.long), torch.zeros(2, 16, dtype=torch.long))
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            model, example, args.out, opset_version=14,
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": {0: "batch"}},
        )


def export_pt2(args):
    model = load_eager(args.model)
    graph = graph_of(model)
    names = model.inputs
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 100, (2, 16), generator=g)
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    batch = torch.export.Dim("batch", min=1)
    seq = torch.export.Dim("seq", min=2, max=model.position_ids.shape[1])
    metadata = dict(item.split("=", 1) for item in args.metadata)
    with torch.no_grad():
        if args.positional:
            # Positional inputs: the call spec's keyword dict is empty, and the metadata names them.
            program = torch.export.export(graph, tuple(example[n] for n in names),
                                          dynamic_shapes=tuple({0: batch, 1: seq} for n in names))
            metadata.setdefault("tce_input_names", ",".join(names))
        else:
            program = torch.export.export(graph, (), kwargs={n: example[n] for n in names},
                                          dynamic_shapes={n: {0: batch, 1: seq} for n in names})
    torch._inductor.aoti_compile_and_package(program, package_path=args.out,
                                            inductor_configs={"aot_inductor.metadata": metadata} if metadata else None)


def damage(args):
    import zipfile

    if args.truncate:
        size = os.path.getsize(args.file)
        with open(args.file, "r+b") as f:
            f.truncate(size // 2)
        return
    if args.zip64_wrap:
        zip64_wrap(args.file)
        return
    with zipfile.ZipFile(args.file) as z:
        info = next((i for i in z.infolist() if i.filename.endswith(args.entry)), None)
        if info is None or info.file_size == 0:
            sys.exit(f"no non-empty entry ending with {args.entry} in {args.file}")
    with open(args.file, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_length, extra_length = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        # The middle of the bytes as stored (compressed, for a deflated entry).
        at = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0x5A]))


def zip64_wrap(path):
    """Ends the archive with a zip64 end record whose offset + size wraps (offset 16, size 2**64 - 8)."""
    import struct

    with open(path, "rb") as f:
        data = f.read()
    eocd = data.rfind(b"PK\x05\x06")
    if eocd < 0:
        sys.exit(f"{path} has no zip end record")
    count = struct.unpack_from("<H", data, eocd + 10)[0]
    cut = eocd
    if eocd >= 20 and data[eocd - 20:eocd - 16] == b"PK\x06\x07":
        cut = struct.unpack_from("<Q", data, eocd - 20 + 8)[0]  # the existing zip64 end record
    body = data[:cut]
    record_at = len(body)
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, 2**64 - 8, 16)
    locator = struct.pack("<IIQI", 0x07064B50, 0, record_at, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(body + record + locator + end)


def fake_pt2(args):
    import zipfile

    metadata = {"AOTI_DEVICE_KEY": args.device, "tce_precision": "fp32",
                "tce_input_names": "input_ids,attention_mask,token_type_ids", "tce_torch_version": "2.13.0"}
    with zipfile.ZipFile(args.out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("model/archive_format", "pt2")
        z.writestr("model/archive_version", "1")
        z.writestr("model/data/aotinductor/model/fake.wrapper_metadata.json", json.dumps(metadata))
        z.writestr("model/data/aotinductor/model/fake.wrapper.so", b"not a shared library")


def simulate_newer(args):
    import zipfile

    shutil.copytree(args.model, args.out, dirs_exist_ok=True)
    source = os.path.join(args.model, "model.pt")
    target = os.path.join(args.out, "model.pt")
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("/code/__torch__.py"):
                data = data.replace(b"torch.slice(", b"torch.slice_from_the_future(", 1)
            elif item.filename.endswith("/extra/metadata.json"):
                metadata = json.loads(data)
                metadata["torch_version"] = args.torch_version
                data = json.dumps(metadata).encode()
            zout.writestr(item.filename, data)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--vocab", required=True)
    b.add_argument("--num-labels", type=int, default=1)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--max-position-embeddings", type=int, default=512)
    b.add_argument("--model-max-length", type=int, default=512)
    b.add_argument("--legacy-activation-key", action="store_true")
    b.add_argument("--inputs", default="input_ids,attention_mask,token_type_ids",
                   help="the inputs the graph takes: all three, or input_ids,attention_mask")
    b.add_argument("--config", help="a Hugging Face config.json whose architecture to use")
    b.add_argument("--init", choices=["wide", "bert"], default="wide",
                   help="wide: every parameter N(0, --init-std), scores spread (tests); bert: BERT's initialisation (benchmarks)")
    b.add_argument("--init-std", type=float, default=0.3, help="std of the random weights with --init wide")
    o = sub.add_parser("onnx")
    o.add_argument("--model", required=True)
    o.add_argument("--out", required=True)
    n = sub.add_parser("simulate-newer")
    n.add_argument("--model", required=True)
    n.add_argument("--out", required=True)
    n.add_argument("--torch-version", default="2.99.0")
    d = sub.add_parser("damage")
    d.add_argument("--file", required=True)
    d.add_argument("--entry", default="")
    d.add_argument("--truncate", action="store_true")
    d.add_argument("--zip64-wrap", action="store_true")
    x = sub.add_parser("pt2")
    x.add_argument("--model", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--positional", action="store_true", help="inputs taken positionally, named by tce_input_names")
    x.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="a metadata string to record")
    f = sub.add_parser("fake-pt2")
    f.add_argument("--out", required=True)
    f.add_argument("--device", default="cpu")
    e = sub.add_parser("expect")
    e.add_argument("--model", required=True)
    e.add_argument("--ids", required=True)
    e.add_argument("--out", required=True)
    args = parser.parse_args()
    commands = {"build": build, "expect": expect, "simulate-newer": simulate_newer, "onnx": export_onnx,
                "damage": damage, "fake-pt2": fake_pt2, "pt2": export_pt2}
    commands[args.command](args)


if __name__ == "__main__":
    main()
