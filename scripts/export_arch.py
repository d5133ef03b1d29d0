"""What scripts/export.py needs to know about a model's architecture: which inputs its forward
takes (the names stored in model.pt's metadata, in the order the graph takes them; the runtime
feeds exactly those), example inputs that are valid for it, and the wrapper that fixes that input
order and returns a plain tuple of logits.

Supported sequence-classification architectures (config.model_type):
  bert, electra                 input_ids, attention_mask, token_type_ids
  xlm-roberta, roberta, camembert
                                input_ids, attention_mask (one token type: type ids are never fed;
                                position ids are made by the model from input_ids, counting from
                                pad_token_id + 1, so padding must be pad_token_id)
  deberta-v2, deberta           input_ids, attention_mask, and token_type_ids only when
                                type_vocab_size > 0 (DeBERTa-v3 has none)
  modernbert                    input_ids, attention_mask
Causal-LM decoders (sentence-transformers' Transformer(text-generation) -> LogitScore, exported by
scripts/export/causal_lm.py, never as a classifier):
  qwen2, qwen3, llama           input_ids, attention_mask (right-padded)
Anything else is refused by input_names() with UnsupportedArchitecture naming it.
"""

SUPPORTED = {
    "bert": "bert",
    "electra": "bert",
    "xlm-roberta": "roberta",
    "roberta": "roberta",
    "camembert": "roberta",
    "deberta-v2": "deberta",
    "deberta": "deberta",
    "modernbert": "modernbert",
}
DECODERS = {"qwen2": "decoder", "qwen3": "decoder", "llama": "decoder"}


class UnsupportedArchitecture(ValueError):
    pass


def family(config, decoders=True):
    """The input family of config's architecture (encoders, and with `decoders` the causal LMs);
    raises UnsupportedArchitecture."""
    model_type = getattr(config, "model_type", None)
    known = {**SUPPORTED, **DECODERS} if decoders else SUPPORTED
    if model_type not in known:
        architectures = ", ".join(getattr(config, "architectures", None) or [])
        rerankers = f" (causal-LM rerankers: {', '.join(sorted(DECODERS))})" if decoders else ""
        raise UnsupportedArchitecture(
            f"architecture {model_type!r}{f' ({architectures})' if architectures else ''} is not supported yet; "
            f"supported model types: {', '.join(sorted(SUPPORTED))}{rerankers}")
    return known[model_type]


def input_names(config):
    """The inputs the exported graph takes, in order, for this model config."""
    kind = family(config)
    if kind == "bert":
        return ["input_ids", "attention_mask", "token_type_ids"]
    if kind == "deberta" and getattr(config, "type_vocab_size", 0) > 0:
        return ["input_ids", "attention_mask", "token_type_ids"]
    return ["input_ids", "attention_mask"]


def max_length(config):
    """The longest sequence the model takes, recorded in the export (a .pt2 compiles its dynamic
    sequence dimension up to it). Absolute position tables (BERT, ELECTRA, RoBERTa) end there:
    RoBERTa-style tables start after the padding index, so 514 rows hold 512 positions.
    ModernBERT (rotary) and DeBERTa-v2/v3 (relative) are trained up to their config's
    max_position_embeddings: 8192 for ModernBERT, 512 for DeBERTa-v3."""
    rows = getattr(config, "max_position_embeddings", None) or 512
    if family(config) == "roberta":
        rows -= (getattr(config, "pad_token_id", 1) or 0) + 1
    return int(rows)


# The longest length an export is checked at (trace and compiled package against eager): a forward
# at ModernBERT's 8192 tokens takes minutes and gigabytes on a small CPU, and the graph is the same
# for every length once it runs at a few of them.
CHECK_MAX_LENGTH = 512


def check_length(max_len):
    """The longest length to check an export at."""
    return min(max_len, CHECK_MAX_LENGTH)


def make_inputs(torch, config, batch, length, seed, device):
    """Random ids with ragged right padding (pad_token_id, mask 0) and, where the model has
    token types, two segments, like real batches, as a tuple in input_names(config) order."""
    g = torch.Generator().manual_seed(seed)
    pad = getattr(config, "pad_token_id", None)
    pad = 0 if pad is None else int(pad)
    ids = torch.randint(5, config.vocab_size, (batch, length), generator=g)
    # A pad id inside the text would shift RoBERTa's positions and is never what a tokenizer gives.
    ids[ids == pad] = 5 if pad != 5 else 6
    mask = torch.ones(batch, length, dtype=torch.long)
    types = torch.zeros(batch, length, dtype=torch.long)
    two_types = getattr(config, "type_vocab_size", 2) >= 2
    for row in range(batch):
        real = length if row == 0 else int(torch.randint(2, length + 1, (1,), generator=g))
        mask[row, real:] = 0
        ids[row, real:] = pad
        if two_types:
            types[row, real // 2:real] = 1
    by_name = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(by_name[name].to(device) for name in input_names(config))


def wrap(torch, model):
    """model as a module whose forward takes input_names(model.config) positionally and returns
    (logits,), as model.pt's contract says."""
    names = input_names(model.config)

    class WithTypes(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids, return_dict=False)
            return (out[0],)

    class WithoutTypes(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)
            return (out[0],)

    return (WithTypes if "token_type_ids" in names else WithoutTypes)(model).eval()
