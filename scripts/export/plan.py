"""Reads a sentence-transformers save's module chain (modules.json and each module's folder)
into a Plan, without loading weights, and refuses what the export cannot reproduce with a
one-line ChainError naming the module.

A save without modules.json, or whose chain is one Transformer(sequence-classification), is a
Hugging Face classifier ("classifier" head: exported as AutoModelForSequenceClassification).
Otherwise the chain is exported as it is:
  Transformer(feature-extraction | sequence-classification) -> Pooling / Dense / LayerNorm /
  Normalize ... ending in "scores"                                          ("module-chain")
  Transformer(text-generation) -> LogitScore                               ("logit-score")
num_labels is derived as sentence-transformers' CrossEncoder.num_labels does: the last Dense
writing "scores" gives its out_features, a Transformer its config's num_labels, LogitScore 1.
"""
import json
import os
from dataclasses import dataclass, field

# Module types by class name (the last part of modules.json's "type"): sentence-transformers
# moved them between packages across versions (sentence_transformers.models.Dense,
# sentence_transformers.base.modules.dense.Dense, ...), but only its own classes qualify.
KNOWN = {"Transformer", "Pooling", "Dense", "LayerNorm", "Normalize", "LogitScore"}
TASKS = {"feature-extraction": "token_embeddings", "sequence-classification": "scores", "text-generation": "causal_logits"}
# The model output each task reads (sentence_bert_config.json's modality_config text.method_output_name).
TASK_OUTPUTS = {"feature-extraction": "last_hidden_state", "sequence-classification": "logits", "text-generation": "logits"}
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
LEGACY_POOLING = {
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


class ChainError(ValueError):
    pass


@dataclass
class Step:
    kind: str  # one of KNOWN
    name: str  # modules.json's name and path, for messages
    path: str
    config: dict = field(default_factory=dict)

    def label(self):
        return f"module {self.name} ({self.kind}{f', {self.path}' if self.path else ''})"


@dataclass
class Plan:
    head: str  # "classifier" | "module-chain" | "logit-score"
    steps: list
    num_labels: int | None  # None for "classifier": the config's num_labels, known once it loads
    task: str

    @property
    def transformer(self):
        return self.steps[0]


def read_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ChainError(f"{what}: cannot read {path}: {error}")


def read_plan(root, st_settings):
    """The Plan of the save in directory `root` (None when it has no modules.json: a plain
    Hugging Face model directory). st_settings: its config_sentence_transformers.json ({} if none)."""
    listing = os.path.join(root, "modules.json")
    if not os.path.exists(listing):
        return None
    entries = read_json(listing, "modules.json")
    if not isinstance(entries, list) or not entries:
        raise ChainError(f"modules.json in {root} lists no modules")
    steps = []
    for entry in entries:
        type_name = str(entry.get("type", ""))
        kind = type_name.rsplit(".", 1)[-1]
        name = str(entry.get("name", entry.get("idx", len(steps))))
        step = Step(kind, name, str(entry.get("path", "")))
        if not type_name.startswith("sentence_transformers.") or kind not in KNOWN:
            raise ChainError(f"module {name} ({type_name or 'no type'}) cannot be exported: the export reproduces "
                             f"only sentence-transformers' {', '.join(sorted(KNOWN))}")
        folder = os.path.join(root, step.path)
        step.config = read_json(os.path.join(folder, "sentence_bert_config.json" if kind == "Transformer" else "config.json"),
                                step.label())
        steps.append(step)
    return check(steps, st_settings)


def check(steps, st_settings):
    first = steps[0]
    if first.kind != "Transformer":
        raise ChainError(f"{first.label()} cannot be exported: the chain must start with a Transformer")
    task = first.config.get("transformer_task", "feature-extraction")
    if task not in TASKS:
        raise ChainError(f"{first.label()} cannot be exported: transformer_task {task!r} is not one of {', '.join(TASKS)}")
    text = (first.config.get("modality_config") or {}).get("text") or {}
    method, output = text.get("method", "forward"), text.get("method_output_name", TASK_OUTPUTS[task])
    if method != "forward" or output != TASK_OUTPUTS[task]:
        raise ChainError(f"{first.label()} cannot be exported: its text modality reads {method}() -> {output!r}, "
                         f"the export only forward() -> {TASK_OUTPUTS[task]!r}")
    if first.config.get("do_lower_case"):
        raise ChainError(f"{first.label()} cannot be exported: do_lower_case=true (sentence-transformers lowercases "
                         "the text before its tokenizer; the runtime tokenizes the text as given)")
    produced = {first.config.get("module_output_name") or TASKS[task], "attention_mask"}
    for step in steps[1:]:
        if step.kind == "Transformer":
            raise ChainError(f"{step.label()} cannot be exported: only the first module may be a Transformer")
        reads, writes = step_io(step, st_settings)
        if reads not in produced:
            raise ChainError(f"{step.label()} reads {reads!r}, which no module before it writes")
        produced.add(writes)
    if "scores" not in produced:
        raise ChainError(f"module {steps[-1].name} ({steps[-1].kind}) is the end of the chain, but no module writes "
                         "'scores': this save is not a CrossEncoder")
    if task == "text-generation":
        if [s.kind for s in steps] != ["Transformer", "LogitScore"]:
            raise ChainError(f"{steps[-1].label()} cannot be exported: a text-generation Transformer is exported "
                             "only as Transformer -> LogitScore")
        return Plan("logit-score", steps, 1, task)
    if any(s.kind == "LogitScore" for s in steps):
        step = next(s for s in steps if s.kind == "LogitScore")
        raise ChainError(f"{step.label()} cannot be exported: LogitScore needs a text-generation Transformer, not {task!r}")
    if len(steps) == 1 and task == "sequence-classification":
        return Plan("classifier", steps, None, task)
    return Plan("module-chain", steps, derived_num_labels(steps), task)


def step_io(step, st_settings):
    """(the feature step reads, the feature it writes); refuses settings the export cannot run."""
    c = step.config
    if step.kind == "Pooling":
        mode = c.get("pooling_mode")
        if mode is None:
            mode = [m for key, m in LEGACY_POOLING.items() if c.get(key)] or ["mean"]
        modes = [mode] if isinstance(mode, str) else list(mode)
        bad = [m for m in modes if m not in POOLING_MODES]
        if bad:
            raise ChainError(f"{step.label()} cannot be exported: pooling mode {bad[0]!r} is not one of {', '.join(POOLING_MODES)}")
        c["pooling_mode"] = modes
        if c.get("include_prompt") is False and (st_settings.get("prompts") or {}):
            # The prompt's length would be a run-time input of the graph, which it does not have.
            raise ChainError(f"{step.label()} cannot be exported: include_prompt=false with saved prompts "
                             "(pooling that skips the prompt tokens needs the prompt length at run time)")
        return "token_embeddings", "sentence_embedding"
    if step.kind == "Dense":
        activation = c.get("activation_function") or "torch.nn.modules.activation.Tanh"
        if not activation.startswith("torch."):
            raise ChainError(f"{step.label()} cannot be exported: activation {activation!r} is not a torch.nn module")
        reads = c.get("module_input_name") or "sentence_embedding"
        return reads, c.get("module_output_name") or reads
    if step.kind == "LayerNorm":
        return "sentence_embedding", "sentence_embedding"
    if step.kind == "Normalize":
        reads = c.get("module_input_name") or "sentence_embedding"
        return reads, c.get("module_output_name") or reads
    # LogitScore
    if c.get("true_token_id") is None:
        raise ChainError(f"{step.label()} cannot be exported: its config has no true_token_id")
    return c.get("module_input_name") or "causal_logits", "scores"


def derived_num_labels(steps):
    for step in reversed(steps):
        if step.kind == "Dense" and (step.config.get("module_output_name") == "scores"):
            return int(step.config["out_features"])
        if step.kind == "LogitScore":
            return 1
        if step.kind == "Transformer":
            return None  # the Transformer's config.num_labels, once its config loads
    return 1
