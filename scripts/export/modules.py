"""A sentence-transformers module chain (a Plan from plan.py) rebuilt as one torch module from
token ids to scores, so that torch.jit.trace and torch.export see a single graph.

Each step works on a dict of features as sentence-transformers' modules do (token_embeddings,
attention_mask, sentence_embedding, scores), reading and writing the keys its config names, and
computes what the sentence-transformers 6.3 module computes for right-padded batches (the
padding the exported graph is fed). Weights come from each module's own folder.
"""
import importlib
import os

import torch

from .plan import ChainError


def load_weights(folder, label):
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            if name.endswith(".safetensors"):
                from safetensors.torch import load_file

                return load_file(path)
            return torch.load(path, map_location="cpu", weights_only=True)
    raise ChainError(f"{label} has no model.safetensors or pytorch_model.bin in {folder}")


def activation(path, label):
    """A torch.nn activation by class path, made with no arguments as sentence-transformers does."""
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise ChainError(f"{label} cannot be exported: activation {path!r} is not a torch.nn module of this torch")
    return cls()


def positions(mask):
    """0, 1, 2, ... per row, from the mask's shape (a traced graph keeps it dynamic)."""
    return torch.ones_like(mask).cumsum(1) - 1


class Pooling(torch.nn.Module):
    def __init__(self, modes):
        super().__init__()
        self.modes = list(modes)

    def forward(self, features):
        tokens = features["token_embeddings"]
        mask = features["attention_mask"]
        hidden = tokens.shape[-1]
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        out = []
        for mode in self.modes:
            if mode == "cls":
                # The first real token (position 0 when right-padded).
                first = mask.to(torch.int32).argmax(1)
                out.append(tokens.gather(1, first.view(-1, 1, 1).expand(-1, 1, hidden)).squeeze(1))
            elif mode == "max":
                out.append(tokens.masked_fill(weights == 0, float("-inf")).max(1).values)
            elif mode in ("mean", "mean_sqrt_len_tokens"):
                total = (tokens * weights).sum(1, dtype=torch.float32)
                count = torch.clamp(weights.sum(1, dtype=torch.float32), min=1e-9)
                out.append((total / (count if mode == "mean" else torch.sqrt(count))).to(tokens.dtype))
            elif mode == "weightedmean":
                # Weights 1, 2, ... counted from the first real token.
                first = mask.to(torch.int32).argmax(1).view(-1, 1, 1)
                ramp = (positions(mask).unsqueeze(-1) + 1 - first).to(torch.float32)
                weighted = weights.to(torch.float32) * ramp
                total = (tokens * weighted).sum(1)
                out.append((total / torch.clamp(weighted.sum(1), min=1e-9)).to(tokens.dtype))
            else:  # lasttoken: the last real token
                last = (positions(mask) * mask).max(1).values
                out.append(tokens.gather(1, last.view(-1, 1, 1).expand(-1, 1, hidden)).squeeze(1))
        features["sentence_embedding"] = torch.cat(out, -1)
        return features


class Dense(torch.nn.Module):
    def __init__(self, config, state, label):
        super().__init__()
        self.reads = config.get("module_input_name") or "sentence_embedding"
        self.writes = config.get("module_output_name") or self.reads
        n_in, n_out = int(config["in_features"]), int(config["out_features"])
        self.linear = torch.nn.Linear(n_in, n_out, bias=config.get("bias", True))
        self.activation = activation(config.get("activation_function") or "torch.nn.modules.activation.Tanh", label)
        self.residual = None
        if config.get("use_residual"):
            self.residual = torch.nn.Identity() if n_in == n_out else torch.nn.Linear(n_in, n_out, bias=False)
        load_state(self, state, label)

    def forward(self, features):
        x = features[self.reads]
        out = self.activation(self.linear(x))
        if self.residual is not None:
            out = out + self.residual(x)
        features[self.writes] = out
        return features


class LayerNorm(torch.nn.Module):
    def __init__(self, config, state, label):
        super().__init__()
        self.norm = torch.nn.LayerNorm(int(config["dimension"]))
        load_state(self, state, label)

    def forward(self, features):
        features["sentence_embedding"] = self.norm(features["sentence_embedding"])
        return features


class Normalize(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.reads = config.get("module_input_name") or "sentence_embedding"
        self.writes = config.get("module_output_name") or self.reads

    def forward(self, features):
        features[self.writes] = torch.nn.functional.normalize(features[self.reads], p=2.0, dim=-1)
        return features


def load_state(module, state, label):
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ChainError(f"{label}: its weights do not fit its config (missing {missing}, unexpected {unexpected})")


class Body(torch.nn.Module):
    """The Transformer step: the Hugging Face model's first output (last_hidden_state or logits)."""

    def __init__(self, model, names, writes):
        super().__init__()
        self.model = model
        self.names = list(names)
        self.writes = writes

    def forward(self, features):
        out = self.model(**{name: features[name] for name in self.names}, return_dict=False)
        features[self.writes] = out[0]
        return features


def build_steps(plan, root, model):
    """The torch modules of plan's chain after its Transformer, with their saved weights."""
    steps = []
    for step in plan.steps[1:]:
        folder = os.path.join(root, step.path)
        label = step.label()
        if step.kind == "Pooling":
            steps.append(Pooling(step.config["pooling_mode"]))
        elif step.kind == "Dense":
            steps.append(Dense(step.config, load_weights(folder, label), label))
        elif step.kind == "LayerNorm":
            steps.append(LayerNorm(step.config, load_weights(folder, label), label))
        elif step.kind == "Normalize":
            steps.append(Normalize(step.config))
        else:
            raise ChainError(f"{label} cannot be exported in a {plan.task} chain")
    return steps


class Chain(torch.nn.Module):
    def __init__(self, body, steps):
        super().__init__()
        self.body = body
        self.steps = torch.nn.ModuleList(steps)

    def run(self, features):
        features = self.body(features)
        for step in self.steps:
            features = step(features)
        return (features["scores"],)


class ChainWithTypes(Chain):
    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.run({"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids})


class ChainWithoutTypes(Chain):
    def forward(self, input_ids, attention_mask):
        return self.run({"input_ids": input_ids, "attention_mask": attention_mask})


def wrap(plan, root, model, names):
    """The whole chain as forward(<names>) -> (scores [batch, num_labels],), as model.pt's contract says."""
    writes = plan.transformer.config.get("module_output_name") or {
        "feature-extraction": "token_embeddings", "sequence-classification": "scores"}[plan.task]
    body = Body(model, names, writes)
    cls = ChainWithTypes if "token_type_ids" in names else ChainWithoutTypes
    return cls(body, build_steps(plan, root, model)).eval()
