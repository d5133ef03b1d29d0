#!/usr/bin/env python3
"""Causal-LM reranker saves (sentence-transformers 6.3: Transformer(transformer_task="text-generation")
-> LogitScore) for the chat-template tests, and what sentence-transformers itself makes of them.

Runs in the project's .venv with sentence-transformers 6.3 (LogitScore, restore_suffix). No network.

  causal_fixture.py build --out DIR --family qwen3|qwen2|llama [--prompt] [--true-only] [--max-seq-length N] [--seed S]
      DIR/st: a small random-weight decoder (Qwen3ForCausalLM, Qwen2ForCausalLM or LlamaForCausalLM, 2 layers of 64)
      with a byte-level BPE tokenizer trained offline on the committed fixture texts (ByteLevel
      pre-tokenizer with its own regex: Qwen's real Split regex is not supported by the native
      tokenizer yet), Qwen's added special tokens, and a chat template:
        qwen3: Qwen3-Reranker's layout (system judge line, <Instruct>/<Query>/<Document>, the
               assistant prefill with an empty <think> block as the generation prompt), the
               instruction taken from a system message; LogitScore("yes", "no").
        qwen2: mxbai-rerank-v2's layout (query and document, then the instruction, i.e. the
               prompt in the template's tail); LogitScore("1", "0"), no false token with --true-only.
               transformers 5 always loads a qwen2 model's tokenizer as Qwen2Tokenizer, which
               replaces the trained pre-tokenizer with Qwen's Split regex.
        llama: the qwen2 layout and tokens on a Llama decoder, whose tokenizer transformers keeps
               as trained.
      --prompt saves prompts {"web": ..., "short": ...} with default_prompt_name "web".
      --max-seq-length sets the Transformer's max_seq_length (truncation, restore_suffix).

  causal_fixture.py echo --st DIR/st --out DIR2 [--padding-side right|left]
      DIR2: the save's files (tokenizer, chat template, modules) with a model.pt in place of the
      decoder whose score for a row is sum_j id[j] * (j + 1) over its real tokens (exact in float32
      for these sizes): a test that knows the ids sentence-transformers makes can check that the
      engine fed the model exactly those, without an exporter.

  causal_fixture.py tokenize --requests requests.json --out out.json
      For each {"model": DIR/st, "pairs": [[q, d], ...], "prompt": str|null, "prompt_name": str|null}:
      the token ids sentence-transformers' Transformer.preprocess gives each pair (padding removed),
      after CrossEncoder's own prompt resolution.

  causal_fixture.py reference --requests requests.json --out out.json
      {"model", "kind": "predict", "pairs", "prompt", "prompt_name", "activation": null|"identity"}
      or {"model", "kind": "rank", "query", "documents", "prompt", "prompt_name"}: CrossEncoder's
      scores / ranking on the CPU in fp32.
"""
import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# Qwen3-Reranker's prompt layout as a chat template over sentence-transformers' pair roles: the
# instruction comes from a system message (a prompt), with the model's default otherwise.
QWEN3_TEMPLATE = (
    "{%- set ns = namespace(instruction='Given a web search query, retrieve relevant passages that answer the query', query='', document='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set ns.instruction = message['content'] -%}"
    "{%- elif message['role'] == 'query' -%}{%- set ns.query = message['content'] -%}"
    "{%- elif message['role'] == 'document' -%}{%- set ns.document = message['content'] -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{- '<|im_start|>system\\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
    "Note that the answer can only be \"yes\" or \"no\".<|im_end|>\\n<|im_start|>user\\n' -}}"
    "{{- '<Instruct>: ' + ns.instruction + '\\n<Query>: ' + ns.query + '\\n<Document>: ' + ns.document + '<|im_end|>\\n' -}}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}"
)

# mxbai-rerank-v2's layout: the instruction (a system message, i.e. the prompt) follows the
# document, inside the suffix that truncation must keep.
QWEN2_TEMPLATE = (
    "{%- set ns = namespace(instruction='You are a search relevance expert. Answer 1 for relevant, 0 for not relevant.', query='', document='') -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'system' -%}{%- set ns.instruction = message.content -%}"
    "{%- elif message.role == 'query' -%}{%- set ns.query = message.content -%}"
    "{%- elif message.role == 'document' -%}{%- set ns.document = message.content -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{- '<|endoftext|><|im_start|>user\\nquery: ' + ns.query | trim + '\\ndocument: ' + ns.document + '\\n' + ns.instruction + '\\nRelevance:<|im_end|>\\n' -}}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

PROMPTS = {
    "web": "Given a web search query, retrieve relevant passages that answer the query",
    "short": "Is the passage relevant?",
}


def corpus():
    texts = []
    for rel in ("families/multilingual.jsonl", "tokenizer/pubmed_sample.jsonl"):
        with open(os.path.join(FIXTURES, rel), encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    # The answer words must be single tokens (LogitScore reads one id each).
    return texts + ["yes", "no"] * 300


def train_tokenizer(out_dir, template, max_length):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=[], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length)
    fast.add_special_tokens({"additional_special_tokens": SPECIALS[1:], "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    fast.chat_template = template
    fast.save_pretrained(out_dir)
    return fast


def build(args):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    shutil.rmtree(args.out, ignore_errors=True)
    hf_dir = os.path.join(args.out, "hf")
    st_dir = os.path.join(args.out, "st")
    template = QWEN3_TEMPLATE if args.family == "qwen3" else QWEN2_TEMPLATE
    tokenizer = train_tokenizer(hf_dir, template, 4096)
    common = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
                  pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    if args.family == "qwen3":
        config, cls = Qwen3Config(head_dim=16, **common), Qwen3ForCausalLM
        true_text, false_text = "yes", "no"
    elif args.family == "qwen2":
        config, cls = Qwen2Config(**common), Qwen2ForCausalLM
        true_text, false_text = "1", "0"
    else:
        config, cls = LlamaConfig(head_dim=16, **common), LlamaForCausalLM
        true_text, false_text = "1", "0"
    torch.manual_seed(args.seed)
    model = cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                continue
            # 0.02 makes every logit nearly equal; wider weights spread the scores.
            p.normal_(0.0, 0.15 if p.dim() > 1 else 0.05)
    model.save_pretrained(hf_dir)
    kwargs = {"prompts": PROMPTS, "default_prompt_name": "web"} if args.prompt else {}
    save_logit_score_reranker(hf_dir, st_dir, tokenizer, args.max_seq_length, true_text,
                              None if args.true_only else false_text, **kwargs)
    print(st_dir)


def save_logit_score_reranker(hf_dir, st_dir, tokenizer, max_seq_length, true_text, false_text, **kwargs):
    """Saves the causal LM in hf_dir as a sentence-transformers 6.3 reranker in st_dir:
    Transformer(text-generation) with the template's generation prompt, then LogitScore of the
    true (and false, unless None) text, each one token of the trained vocabulary."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.cross_encoder.modules import LogitScore

    def single_id(text):
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            sys.exit(f"causal_fixture.py: {text!r} is {len(ids)} tokens in the trained vocabulary")
        return ids[0]

    transformer = Transformer(hf_dir, transformer_task="text-generation", max_seq_length=max_seq_length,
                              processing_kwargs={"chat_template": {"add_generation_prompt": True}})
    score = LogitScore(single_id(true_text), None if false_text is None else single_id(false_text))
    CrossEncoder(modules=[transformer, score], device="cpu", **kwargs).save(st_dir)


class Echo(torch.nn.Module):
    def forward(self, input_ids, attention_mask):
        positions = torch.arange(1, input_ids.shape[1] + 1, dtype=torch.int64).unsqueeze(0)
        return (input_ids * positions * attention_mask).sum(dim=1, keepdim=True).to(torch.float32)


def echo(args):
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(args.st, args.out, ignore=shutil.ignore_patterns("model.safetensors"))
    scripted = torch.jit.script(Echo())
    metadata = {"torch_version": torch.__version__, "num_labels": 1, "input_names": ["input_ids", "attention_mask"],
                "tce_head": "logit-score", "tce_padding_side": args.padding_side,
                "exported_by": "test/helpers/causal_fixture.py echo"}
    torch.jit.save(scripted, os.path.join(args.out, "model.pt"), _extra_files={"metadata.json": json.dumps(metadata)})
    print(args.out)


def load(path, cache):
    from sentence_transformers import CrossEncoder

    if path not in cache:
        cache[path] = CrossEncoder(path, device="cpu")
    return cache[path]


def answer(args, one):
    """Answers each request of the --requests file with one(request, its model); writes {"results": [...]} to --out."""
    with open(args.requests) as f:
        requests = json.load(f)
    cache = {}
    results = [one(request, load(request["model"], cache)) for request in requests]
    with open(args.out, "w") as f:
        json.dump({"results": results}, f)


def tokenize(args):
    def ids_of(request, model):
        prompt = model._resolve_prompt(request.get("prompt"), request.get("prompt_name"))
        rows = []
        for pair in request["pairs"]:
            features = model.preprocess([tuple(pair)], prompt=prompt)
            ids = features["input_ids"][0][features["attention_mask"][0].bool()]
            rows.append(ids.tolist())
        return {"ids": rows}

    answer(args, ids_of)


def reference(args):
    def scores_of(request, model):
        kwargs = {"prompt": request.get("prompt"), "prompt_name": request.get("prompt_name"), "show_progress_bar": False}
        if request["kind"] == "predict":
            if request.get("activation") == "identity":
                kwargs["activation_fn"] = torch.nn.Identity()
            scores = model.predict([tuple(p) for p in request["pairs"]], batch_size=4, convert_to_numpy=True, **kwargs)
            return {"scores": scores.tolist()}
        ranked = model.rank(request["query"], request["documents"], batch_size=4, **kwargs)
        return {"ranked": [{"corpus_id": int(r["corpus_id"]), "score": float(r["score"])} for r in ranked]}

    answer(args, scores_of)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--family", choices=["qwen3", "qwen2", "llama"], required=True)
    b.add_argument("--prompt", action="store_true")
    b.add_argument("--true-only", action="store_true")
    b.add_argument("--max-seq-length", type=int, default=None)
    b.add_argument("--seed", type=int, default=7)
    e = sub.add_parser("echo")
    e.add_argument("--st", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--padding-side", default="right", help="what the metadata says (a wrong one is refused at load)")
    for name in ("tokenize", "reference"):
        p = sub.add_parser(name)
        p.add_argument("--requests", required=True)
        p.add_argument("--out", required=True)
    args = parser.parse_args()
    {"build": build, "echo": echo, "tokenize": tokenize, "reference": reference}[args.command](args)


if __name__ == "__main__":
    main()
