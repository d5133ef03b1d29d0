#!/usr/bin/env python3
"""sentence-transformers 6.3 saves that are more than a Hugging Face classifier, for the export
tests (test/export-chain.test.ts), built offline with small random weights, and their references.

Runs in .venv (sentence-transformers 6.3, transformers 5). HF_HUB_OFFLINE is set.

  st_chain_fixture.py build --kind KIND --out DIR [--seed S]
      DIR/st: a CrossEncoder.save() of
        ettin     ModernBERT Transformer(feature-extraction) -> Pooling(cls) -> Dense(GELU) ->
                  LayerNorm -> Dense(identity, module_output_name="scores"), as ettin rerankers
                  are saved (a byte-level BPE tokenizer trained on the committed fixture texts)
        ettin-mean
                  the same with mean pooling, a residual Dense and a 2-score head (num_labels 2)
        custom    the ettin chain with a module of this file's own class in it (not exportable)
        qwen3     Qwen3 Transformer(text-generation) -> LogitScore("yes", "no"), tied embeddings,
                  a chat template rendering the query/document roles, a saved default prompt
        qwen2     Qwen2 Transformer(text-generation) -> LogitScore("1", "0"), untied lm_head
        qwen3-true
                  qwen3 with LogitScore("yes") alone (no false token)
        llama     Llama Transformer(text-generation) -> LogitScore("1", "0"), 4096 positions

  st_chain_fixture.py causal --model DIR/st --pairs pairs.json --out out.json
      [--prompt P] [--max-seq-length N] [--batch-size B]
      Scores the pairs with CrossEncoder.predict (no activation), catching the token ids that
      sentence-transformers itself produced for each batch (its prompt, truncation and left
      padding) and the scores its chain gave them; writes {"st": [...], "lengths": [...],
      "batches": [the same ids right-padded, as the exported graph takes them],
      "st_left_vs_right": max |ST's model on right padding - ST's own left-padded scores|}
      in the order predict() ran them.

  st_chain_fixture.py run --export FILE --batches out.json --out scores.json
      The exported graph (model.pt via torch.jit.load, model.pt2 via aoti_load_package) on
      those batches, in whatever torch runs it (Debian's python3-torch 1.13 too):
      {"torch": version, "scores": [...]}.

  st_chain_fixture.py predict --model DIR/st --pairs pairs.json --out out.json
      CrossEncoder.predict (default activation) and rank of the first pair's query over all
      the documents.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures")

# A reranker template in the shape of Qwen3-Reranker's: system prompt (when given), then one user
# turn holding both roles, then an empty assistant turn whose next token is scored.
CHAT_TEMPLATE = (
    "{%- for m in messages if m.role == 'system' -%}<|im_start|>system\n{{ m.content }}<|im_end|>\n{% endfor -%}"
    "<|im_start|>user\n<Query>: {{ messages | selectattr('role', 'eq', 'query') | map(attribute='content') | first }}\n"
    "<Document>: {{ messages | selectattr('role', 'eq', 'document') | map(attribute='content') | first }}<|im_end|>\n"
    "<|im_start|>assistant\n"
)
# Qwen2's pre-tokenizer pattern (GPT-4-style, digits one at a time).
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
              r"|\s+(?!\S)|\s+")


def corpus():
    texts = []
    for rel in ("families/multilingual.jsonl", "tokenizer/pubmed_sample.jsonl"):
        with open(os.path.join(FIXTURES, rel), encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def bpe_tokenizer(kind):
    """A byte-level BPE trained on the fixture texts: ModernBERT's shape ([CLS] A [SEP] B [SEP])
    or Qwen's (Split regex + ByteLevel without its own regex, chat special tokens)."""
    import transformers
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    if kind == "modernbert":
        specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus() + ["yes no"] * 50, trainer)
    tok.decoder = decoders.ByteLevel()
    if kind == "modernbert":
        cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
        return transformers.PreTrainedTokenizerFast(
            tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
            mask_token="[MASK]", model_max_length=512)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = transformers.Qwen2TokenizerFast(tokenizer_object=tok, unk_token=None, bos_token=None,
                                           eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def widen(model, scale=0.2):
    """Weights wider than the default initialisation, so that scores differ and ranks mean something."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0, scale)


class Shift(torch.nn.Module):
    """A module sentence-transformers can save and load but the export does not know."""

    def __init__(self, by: float = 0.5):
        super().__init__()
        self.by = by

    def forward(self, features):
        features["sentence_embedding"] = features["sentence_embedding"] + self.by
        return features

    def get_config_dict(self):
        return {"by": self.by}

    def save(self, output_path, *args, **kwargs):
        with open(os.path.join(output_path, "config.json"), "w") as f:
            json.dump({"by": self.by}, f)

    @classmethod
    def load(cls, model_name_or_path, subfolder="", **kwargs):
        with open(os.path.join(model_name_or_path, subfolder, "config.json")) as f:
            return cls(**json.load(f))


def build_ettin(hf_dir, kind):
    import transformers
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import LayerNorm, Pooling

    tokenizer = bpe_tokenizer("modernbert")
    config = transformers.ModernBertConfig(
        vocab_size=len(tokenizer), max_position_embeddings=1024, pad_token_id=tokenizer.pad_token_id,
        cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id, global_attn_every_n_layers=2, local_attention=16, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, architectures=["ModernBertModel"])
    model = transformers.ModernBertModel(config).eval()
    widen(model)
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    # ettin-mean: mean pooling, a widening Dense with a projected residual, two scores.
    mean = kind == "ettin-mean"
    width = 48 if mean else 32
    modules = [
        Transformer(hf_dir, transformer_task="feature-extraction", max_seq_length=256),
        Pooling(32, pooling_mode="mean" if mean else "cls"),
        Dense(32, width, activation_function=torch.nn.GELU(), use_residual=mean),
        LayerNorm(width),
        Dense(width, 2 if mean else 1, activation_function=torch.nn.Identity(), module_output_name="scores"),
    ]
    if kind == "custom":
        modules.insert(3, Shift())
    for module in modules[1:]:
        widen(module, 0.3)
    return CrossEncoder(modules=modules, device="cpu")


def build_causal(hf_dir, kind):
    import transformers
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.cross_encoder.modules import LogitScore

    tokenizer = bpe_tokenizer("qwen")
    small = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    if kind == "qwen2":
        config = transformers.Qwen2Config(**small, tie_word_embeddings=False, architectures=["Qwen2ForCausalLM"])
        model = transformers.Qwen2ForCausalLM(config)
    elif kind == "llama":
        config = transformers.LlamaConfig(**{**small, "max_position_embeddings": 4096}, architectures=["LlamaForCausalLM"])
        model = transformers.LlamaForCausalLM(config)
    else:
        config = transformers.Qwen3Config(**small, head_dim=16, tie_word_embeddings=True,
                                          architectures=["Qwen3ForCausalLM"])
        model = transformers.Qwen3ForCausalLM(config)
    model.eval()
    widen(model, 0.1)
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)

    def token(text):
        return tokenizer(text, add_special_tokens=False).input_ids[-1]

    if kind in ("qwen2", "llama"):
        score = LogitScore(token("1"), token("0"))
    elif kind == "qwen3-true":
        score = LogitScore(token("yes"))
    else:
        score = LogitScore(token("yes"), token("no"))
    prompts = {}
    if kind == "qwen3":
        prompts = {"web": "Judge whether the Document meets the requirements based on the Query and the Instruct "
                          "provided. Note that the answer can only be \"yes\" or \"no\"."}
    transformer = Transformer(hf_dir, transformer_task="text-generation", max_seq_length=200)
    return CrossEncoder(modules=[transformer, score], device="cpu", prompts=prompts or None,
                        default_prompt_name="web" if prompts else None)


def build(args):
    torch.manual_seed(args.seed)
    shutil.rmtree(args.out, ignore_errors=True)
    hf_dir = tempfile.mkdtemp()
    try:
        if args.kind in ("ettin", "ettin-mean", "custom"):
            model = build_ettin(hf_dir, args.kind)
        else:
            model = build_causal(hf_dir, args.kind)
        model.save(os.path.join(args.out, "st"))
    finally:
        shutil.rmtree(hf_dir, ignore_errors=True)
    print(json.dumps({"out": args.out, "num_labels": model.num_labels}))


def load_pairs(file):
    with open(file) as f:
        return [tuple(p) for p in json.load(f)]


def causal(args):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(args.model, device="cpu")
    if model.max_seq_length != args.max_seq_length and args.max_seq_length:
        model.max_seq_length = args.max_seq_length
    pairs = load_pairs(args.pairs)
    # The batches exactly as predict() tokenizes them (its prompt, truncation, left padding) and
    # the scores its chain computes for each, caught at the CrossEncoder's forward.
    batches = []
    hook = model.register_forward_hook(lambda module, inputs, output: batches.append(
        (inputs[0]["input_ids"].clone(), inputs[0]["attention_mask"].clone(), output["scores"].detach().clone())))
    kwargs = {"prompt": args.prompt} if args.prompt is not None else {}
    model.predict(pairs, activation_fn=torch.nn.Identity(), batch_size=args.batch_size, convert_to_numpy=True, **kwargs)
    hook.remove()
    st_scores, right_batches, lengths, left_vs_right = [], [], [], 0.0
    lm, head = model[0].model, model[1]
    with torch.inference_mode():
        for ids, mask, st in batches:
            if mask[:, -1].min() != 1:
                sys.exit("st_chain_fixture.py: sentence-transformers did not left-pad")
            # Left padding -> right padding: each row's real tokens moved to the front.
            right_ids = torch.full_like(ids, model.tokenizer.pad_token_id)
            right_mask = torch.zeros_like(mask)
            for row in range(ids.shape[0]):
                real = ids[row][mask[row].bool()]
                right_ids[row, :real.numel()] = real
                right_mask[row, :real.numel()] = 1
            st_scores += st.reshape(-1).tolist()
            right_batches.append({"input_ids": right_ids.tolist(), "attention_mask": right_mask.tolist()})
            lengths += mask.sum(1).tolist()
            # ST's own Hugging Face model on the right-padded batch, scored at the last real
            # token: shows that left padding, which the graph does not take, changes nothing.
            logits = lm(input_ids=right_ids, attention_mask=right_mask).logits
            last = logits[torch.arange(ids.shape[0]), right_mask.sum(1) - 1]
            right = last[:, head.true_token_id] - (last[:, head.false_token_id] if head.false_token_id is not None else 0)
            left_vs_right = max(left_vs_right, (right - st.reshape(-1)).abs().max().item())
    with open(args.out, "w") as f:
        json.dump({"st": st_scores, "batches": right_batches, "st_left_vs_right": left_vs_right, "lengths": lengths,
                   "max_seq_length": model.max_seq_length}, f)


def run(args):
    """The exported graph on the batches of a `causal` output (any torch: Debian's 1.13 too)."""
    with open(args.batches) as f:
        batches = json.load(f)["batches"]
    if args.export.endswith(".pt2"):
        package = torch._inductor.aoti_load_package(args.export)

        def forward(ids, mask):
            return package(input_ids=ids, attention_mask=mask)[0]
    else:
        graph = torch.jit.load(args.export)

        def forward(ids, mask):
            return graph(ids, mask)[0]

    scores = []
    with torch.no_grad():
        for batch in batches:
            out = forward(torch.tensor(batch["input_ids"]), torch.tensor(batch["attention_mask"]))
            if list(out.shape) != [len(batch["input_ids"]), 1]:
                sys.exit(f"st_chain_fixture.py: the graph returned shape {list(out.shape)}")
            scores += out.reshape(-1).tolist()
    with open(args.out, "w") as f:
        json.dump({"torch": torch.__version__, "scores": scores}, f)


def predict(args):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(args.model, device="cpu")
    pairs = load_pairs(args.pairs)
    scores = model.predict(pairs, batch_size=8, convert_to_numpy=True)
    result = {"num_labels": model.num_labels, "scores": scores.tolist()}
    if model.num_labels == 1:
        ranked = model.rank(pairs[0][0], [d for _, d in pairs], batch_size=8)
        result["ranking"] = [{"corpus_id": int(r["corpus_id"]), "score": float(r["score"])} for r in ranked]
    with open(args.out, "w") as f:
        json.dump(result, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--kind", required=True, choices=["ettin", "ettin-mean", "custom", "qwen3", "qwen2", "qwen3-true", "llama"])
    b.add_argument("--out", required=True)
    b.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("causal")
    c.add_argument("--model", required=True)
    c.add_argument("--pairs", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--batch-size", type=int, default=4)
    c.add_argument("--prompt", help="predict(prompt=...); default: the saved default prompt")
    c.add_argument("--max-seq-length", type=int, help="truncate to this many tokens instead of the saved length")
    r = sub.add_parser("run")
    r.add_argument("--export", required=True)
    r.add_argument("--batches", required=True)
    r.add_argument("--out", required=True)
    p = sub.add_parser("predict")
    p.add_argument("--model", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    {"build": build, "causal": causal, "run": run, "predict": predict}[args.command](args)


if __name__ == "__main__":
    main()
