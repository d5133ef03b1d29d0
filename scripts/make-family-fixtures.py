#!/usr/bin/env python3
"""Tokenizer directories and small random-weight CrossEncoder saves of the reranker families
other than BERT WordPiece, built offline the way the real ones are made, for the parity tests
(test/families*.test.ts) and the tokenizer benchmark.

  make-family-fixtures.py tokenizers --out DIR
      Trains on the committed fixture texts (test/fixtures/families/multilingual.jsonl and the
      PubMed / Unicode samples of test/fixtures/tokenizer):
        DIR/xlmr        a sentencepiece Unigram (nmt_nfkc) converted by this Python's
                        transformers, as XLM-R / bge-reranker ships it (sentencepiece.bpe.model
                        -> tokenizer.json: Precompiled charsmap, Metaspace, <s> A </s></s> B </s>)
        DIR/deberta-v3  the same kind of model (with byte pieces) converted as DeBERTa-v3 (spm.model:
                        [CLS] A [SEP] B [SEP], type ids 0/1)
        DIR/modernbert  a byte-level BPE trained with `tokenizers` (NFC, ByteLevel, [CLS]/[SEP]
                        template) as ModernBERT's
        DIR/qwen2       a byte-level BPE as Qwen2 / Qwen3 (and so Qwen3-Reranker, mxbai-rerank-v2)
                        ship it: NFC, Split with the GPT-4-style regex (\p{N} one digit at a time),
                        ByteLevel without its regex, ByteLevel post-processor, <|endoftext|>,
                        <|im_start|>, <|im_end|> ... as added tokens (special and not)
        DIR/llama3      the same as Llama-3 ships it: no normalizer, \p{N}{1,3}, ignore_merges,
                        <|begin_of_text|> prepended by a TemplateProcessing after ByteLevel
      The tokenizer.json files depend on the transformers version (4.x and 5.x converters
      differ); run it with .venv and with .venv-st41 to get both.

  make-family-fixtures.py models --tokenizers DIR --out DIR2 [--seed S]
      DIR2/<arch>: a small random-weight sequence-classification model of each architecture
      (xlm-roberta, deberta-v2, modernbert, electra) with num_labels 1, saved by
      sentence-transformers' CrossEncoder.save() with the matching tokenizer (ELECTRA takes the
      BiomedBERT WordPiece vocabulary, as ELECTRA rerankers use BERT's tokenizer).

No network: HF_HUB_OFFLINE is set.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures")


def corpus():
    texts = []
    for rel in ("families/multilingual.jsonl", "tokenizer/pubmed_sample.jsonl", "tokenizer/unicode_edge_cases_sample.jsonl"):
        with open(os.path.join(FIXTURES, rel), encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def train_spm(texts, prefix, byte_fallback, specials):
    import sentencepiece as spm

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for t in texts:
            for line in t.splitlines():
                if line.strip():
                    f.write(line + "\n")
        path = f.name
    try:
        # character_coverage < 1 leaves rare characters out of the vocabulary (unk / byte pieces).
        spm.SentencePieceTrainer.train(
            input=path, model_prefix=prefix, vocab_size=2000, hard_vocab_limit=False, model_type="unigram",
            normalization_rule_name="nmt_nfkc", character_coverage=0.995, byte_fallback=byte_fallback,
            num_threads=1, minloglevel=2, **specials)
    finally:
        os.unlink(path)


def tokenizers_cmd(args):
    import transformers

    texts = corpus()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp()
    try:
        # XLM-R: sentencepiece's own ids (<unk> 0, <s> 1, </s> 2); the converter remaps them.
        src = os.path.join(work, "xlmr")
        os.makedirs(src)
        train_spm(texts, os.path.join(work, "xlmr-spm"), False, {})
        shutil.copy(os.path.join(work, "xlmr-spm.model"), os.path.join(src, "sentencepiece.bpe.model"))
        cls = getattr(transformers, "XLMRobertaTokenizerFast", None) or transformers.XLMRobertaTokenizer
        cls.from_pretrained(src).save_pretrained(os.path.join(args.out, "xlmr"))

        # DeBERTa-v3: [PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3 as in microsoft/deberta-v3-*'s spm.model.
        src = os.path.join(work, "deberta")
        os.makedirs(src)
        train_spm(texts, os.path.join(work, "deberta-spm"), True, dict(
            pad_id=0, pad_piece="[PAD]", bos_id=1, bos_piece="[CLS]", eos_id=2, eos_piece="[SEP]",
            unk_id=3, unk_piece="[UNK]"))
        shutil.copy(os.path.join(work, "deberta-spm.model"), os.path.join(src, "spm.model"))
        cls = getattr(transformers, "DebertaV2TokenizerFast", None) or transformers.DebertaV2Tokenizer
        cls.from_pretrained(src).save_pretrained(os.path.join(args.out, "deberta-v3"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ModernBERT: byte-level BPE.
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    tok.decoder = decoders.ByteLevel()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
        mask_token="[MASK]", model_max_length=512)
    fast.save_pretrained(os.path.join(args.out, "modernbert"))

    for name, make in (("qwen2", qwen2_tokenizer), ("llama3", llama3_tokenizer)):
        make(texts).save_pretrained(os.path.join(args.out, name))
    print(json.dumps({"transformers": transformers.__version__, "out": args.out}))


# The Split regexes of the tokenizer.json files of Qwen2 / Qwen2.5 / Qwen3 and of Llama-3, as
# published (one digit per piece for Qwen, up to three for Llama-3).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")


def gpt4_style_bpe(texts, split, specials, vocab_size):
    """A byte-level BPE behind a Split(regex, isolated) + ByteLevel(use_regex=False) pre-tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tok


def qwen2_tokenizer(texts):
    import transformers
    from tokenizers import AddedToken, normalizers, processors

    # Qwen2's added tokens: the special ones first, then the non-special ones (normalized=False),
    # as in Qwen2.5 / Qwen3's tokenizer.json (a subset: the real file has 26).
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                "<|box_start|>", "<|box_end|>", "<|vision_pad|>"]
    tok = gpt4_style_bpe(texts, QWEN2_SPLIT, specials, 1200)
    tok.normalizer = normalizers.NFC()
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in
                    ("<tool_call>", "</tool_call>", "<think>", "</think>", "<|fim_prefix|>")])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=32768,
        additional_special_tokens=["<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>"])


def llama3_tokenizer(texts):
    import transformers
    from tokenizers import processors

    specials = ["<|begin_of_text|>", "<|end_of_text|>"] + [f"<|reserved_special_token_{i}|>" for i in range(4)] + [
        "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = gpt4_style_bpe(texts, LLAMA3_SPLIT, specials, 1200)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    # Llama-3's own files name no padding token; a reranker built on it must (it pads batches), and
    # <|end_of_text|> is the usual choice.
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>", pad_token="<|end_of_text|>",
        model_max_length=131072)
    # Llama-3's BPE looks a whole pre-token up in the vocabulary before merging (ignore_merges).
    fast.backend_tokenizer.model.ignore_merges = True
    return fast


def models_cmd(args):
    import torch
    import transformers
    from sentence_transformers import CrossEncoder

    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, num_labels=1)
    bert_vocab = os.path.join(FIXTURES, "tokenizer", "biomedbert_vocab.txt")
    families = {
        "xlm-roberta": ("xlmr", lambda v, t: transformers.XLMRobertaConfig(
            vocab_size=v, max_position_embeddings=514, type_vocab_size=1, pad_token_id=t.pad_token_id,
            bos_token_id=t.cls_token_id, eos_token_id=t.sep_token_id, **small)),
        "deberta-v2": ("deberta-v3", lambda v, t: transformers.DebertaV2Config(
            vocab_size=v, max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
            position_buckets=32, max_relative_positions=-1, pos_att_type=["p2c", "c2p"], position_biased_input=False,
            norm_rel_ebd="layer_norm", share_att_key=True, pad_token_id=t.pad_token_id, **small)),
        "modernbert": ("modernbert", lambda v, t: transformers.ModernBertConfig(
            vocab_size=v, max_position_embeddings=512, pad_token_id=t.pad_token_id, cls_token_id=t.cls_token_id,
            sep_token_id=t.sep_token_id, bos_token_id=t.cls_token_id, eos_token_id=t.sep_token_id,
            global_attn_every_n_layers=2, local_attention=16, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=64, num_labels=1)),
        "electra": (None, lambda v, t: transformers.ElectraConfig(
            vocab_size=v, embedding_size=32, max_position_embeddings=512, pad_token_id=t.pad_token_id, **small)),
    }
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(args.out, exist_ok=True)
    for arch, (tok_name, make_config) in families.items():
        if only and arch not in only:
            continue
        if tok_name is None:
            vocab_dir = tempfile.mkdtemp()
            shutil.copy(bert_vocab, os.path.join(vocab_dir, "vocab.txt"))
            with open(os.path.join(vocab_dir, "tokenizer_config.json"), "w") as f:
                json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 512}, f)
            tokenizer = transformers.AutoTokenizer.from_pretrained(vocab_dir)
            shutil.rmtree(vocab_dir, ignore_errors=True)
        else:
            tokenizer = transformers.AutoTokenizer.from_pretrained(os.path.join(args.tokenizers, tok_name))
        vocab_size = max(len(tokenizer), max(tokenizer.get_vocab().values()) + 1)
        config = make_config(vocab_size, tokenizer)
        config.architectures = [type(config).__name__.replace("Config", "ForSequenceClassification")]
        torch.manual_seed(args.seed)
        model = transformers.AutoModelForSequenceClassification.from_config(config).eval()
        with torch.no_grad():
            # Wider than the default initialisation, so that scores differ and rankings mean something.
            for name, p in model.named_parameters():
                if p.dim() > 1:
                    p.normal_(0, 0.2)
        src = tempfile.mkdtemp()
        try:
            model.save_pretrained(src)
            tokenizer.save_pretrained(src)
            ce = CrossEncoder(src, device="cpu", max_length=128)
            target = os.path.join(args.out, arch)
            shutil.rmtree(target, ignore_errors=True)
            ce.save(target)
        finally:
            shutil.rmtree(src, ignore_errors=True)
    print(json.dumps({"transformers": transformers.__version__, "out": args.out}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokenizers")
    t.add_argument("--out", required=True)
    m = sub.add_parser("models")
    m.add_argument("--tokenizers", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--only", default="")
    args = p.parse_args()
    {"tokenizers": tokenizers_cmd, "models": models_cmd}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
