"""Loads a module-chain or LogitScore save (a Plan from plan.py) as the module scripts/export.py
traces or exports: forward(<input names>) -> (scores [batch, num_labels],)."""
import os

import export_arch  # scripts/export_arch.py (scripts/export.py puts scripts/ on the path)

from . import causal_lm, modules
from .plan import ChainError


def from_pretrained(cls, folder, attn):
    """(model, the attention it got): SDPA or eager as asked, else what the model has."""
    try:
        model = cls.from_pretrained(folder, attn_implementation=attn)
    except (TypeError, ValueError):
        model = cls.from_pretrained(folder)
        attn = getattr(model.config, "_attn_implementation", None) or "eager"
    return model, attn


def check_config(transformers, plan, root):
    """The Transformer's config, checked before any weights load."""
    step = plan.transformer
    config = transformers.AutoConfig.from_pretrained(os.path.join(root, step.path))
    if plan.head == "logit-score":
        causal_lm.check_architecture(config, step.label())
    else:
        try:
            export_arch.family(config, decoders=False)
        except export_arch.UnsupportedArchitecture as error:
            raise ChainError(f"{step.label()} cannot be exported: {error}")
    return config


def load(torch, transformers, plan, root, attn):
    """(wrapped module, Transformer config, attention, num_labels, extra metadata)."""
    step = plan.transformer
    folder = os.path.join(root, step.path)
    if plan.head == "logit-score":
        lm, attn = from_pretrained(transformers.AutoModelForCausalLM, folder, attn)
        score = plan.steps[1].config
        wrapped = causal_lm.LogitScoreGraph(lm, score["true_token_id"], score.get("false_token_id")).eval()
        extra = {"true_token_id": int(score["true_token_id"]),
                 "false_token_id": None if score.get("false_token_id") is None else int(score["false_token_id"])}
        return wrapped, lm.config, attn, 1, extra
    cls = transformers.AutoModel if plan.task == "feature-extraction" else transformers.AutoModelForSequenceClassification
    model, attn = from_pretrained(cls, folder, attn)
    model.eval()
    wrapped = modules.wrap(plan, root, model, export_arch.input_names(model.config))
    num_labels = plan.num_labels if plan.num_labels is not None else model.config.num_labels
    chain = " -> ".join(s.kind if s.kind != "Transformer" else f"Transformer({plan.task})" for s in plan.steps)
    return wrapped, model.config, attn, num_labels, {"module_chain": chain}
