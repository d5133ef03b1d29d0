"""The graph of a causal-LM reranker (sentence-transformers' Transformer(text-generation) ->
LogitScore(true_token_id, false_token_id)):

    forward(input_ids, attention_mask)   int64 [batch, seq], RIGHT-padded (real tokens first)
      -> (scores [batch, 1],)            logit(true) - logit(false) of the last real token
                                         (logit(true) alone without a false token), before
                                         any activation

sentence-transformers left-pads so that position -1 is every row's last token. Right padding
gives the same scores: the decoders here use rotary position embeddings, so attention depends
only on the distance between tokens, and causal attention never lets a real token see the pad
positions after it. The last real token is at attention_mask.sum(1) - 1; only its hidden state
goes through the LM head, and only the head's true/false rows (a 151k-row vocabulary times every
position would not fit in memory for long inputs).
"""
import torch

from .plan import ChainError

# Decoders whose CausalLM is `model` (embeddings, rotary layers, final norm) + `lm_head`, with no
# logit scaling or soft-capping between them: the same graph applies to each.
DECODERS = ("qwen2", "qwen3", "llama")


def check_architecture(config, label):
    """Refuses a decoder this graph is not known to reproduce (before its weights load)."""
    model_type = getattr(config, "model_type", None)
    if model_type not in DECODERS:
        architectures = ", ".join(getattr(config, "architectures", None) or [])
        raise ChainError(f"{label} cannot be exported: causal-LM architecture {model_type!r}"
                         f"{f' ({architectures})' if architectures else ''} is not supported; supported: "
                         f"{', '.join(DECODERS)}")
    for key in ("final_logit_softcapping", "logit_scale"):
        if getattr(config, key, None) not in (None, 1, 1.0):
            raise ChainError(f"{label} cannot be exported: its config sets {key}, which this graph does not apply")


class LogitScoreGraph(torch.nn.Module):
    def __init__(self, lm, true_token_id, false_token_id):
        super().__init__()
        self.body = lm.get_decoder()
        head = lm.get_output_embeddings()
        vocab = head.weight.shape[0]
        rows = [int(true_token_id)] + ([] if false_token_id is None else [int(false_token_id)])
        bad = [r for r in rows if not 0 <= r < vocab]
        if bad:
            raise ChainError(f"LogitScore token id {bad[0]} is outside the model's {vocab}-row vocabulary")
        self.head = torch.nn.Linear(head.weight.shape[1], len(rows), bias=head.bias is not None)
        with torch.no_grad():
            self.head.weight.copy_(head.weight[rows])
            if head.bias is not None:
                self.head.bias.copy_(head.bias[rows])
        self.head.to(dtype=head.weight.dtype, device=head.weight.device)
        self.log_odds = false_token_id is not None

    def forward(self, input_ids, attention_mask):
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=False)[0]
        last = (attention_mask.sum(1) - 1).view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
        logits = self.head(hidden.gather(1, last).squeeze(1))  # [batch, 1 or 2]
        if self.log_odds:
            return (logits[:, 0:1] - logits[:, 1:2],)
        return (logits[:, 0:1],)
