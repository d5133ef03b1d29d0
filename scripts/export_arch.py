"""What scripts/export.py needs to know about a model's architecture: which inputs its forward
takes (the names stored in model.pt's metadata, in the order the graph takes them), example
inputs that are valid for it, and the wrapper that fixes that input order and returns a plain
tuple of logits. Today: BERT-style sequence-classification models (input_ids, attention_mask,
token_type_ids).
"""

BERT_INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]


def input_names(config):
    """The inputs the exported graph takes, in order, for this model config."""
    return list(BERT_INPUT_NAMES)


def make_inputs(torch, config, batch, length, seed, device):
    """Random ids with ragged right padding and two segments, like real batches, as a tuple in
    input_names(config) order."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, config.vocab_size, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    types = torch.zeros(batch, length, dtype=torch.long)
    for row in range(batch):
        real = length if row == 0 else int(torch.randint(2, length + 1, (1,), generator=g))
        mask[row, real:] = 0
        ids[row, real:] = 0
        types[row, real // 2:real] = 1
    by_name = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(by_name[name].to(device) for name in input_names(config))


def wrap(torch, model):
    """model as a module whose forward takes input_names(model.config) positionally and returns
    (logits,), as model.pt's contract says."""

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids, return_dict=False)
            return (out[0],)

    return Logits(model).eval()
