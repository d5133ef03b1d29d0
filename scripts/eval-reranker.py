#!/usr/bin/env python3
"""Evaluate a cross-encoder as a reranker of BM25 candidate pools on BioASQ questions.

    .venv/bin/python scripts/eval-reranker.py --model DIR [--package] [--exported DIR] [--n 200]
        [--pool 50] [--hard 20] [--max-gold 10] [--seed 13] [--json OUT.json] [--pairs OUT.jsonl]

    npm run bench:rerank     the bundled model (models/biomed-minilm-ce), with --package, figures
                             to bench/results/rerank-eval-DATE.json

--model is a sentence-transformers CrossEncoder save, or a model directory made by
scripts/export.py: then it is rebuilt as a CrossEncoder save from model.pt's own weights
(scripts/st-from-export.py) so that sentence-transformers scores exactly the model the package
runs, and --exported defaults to it.

Data: ../shared/data/bioasq_questions_all.jsonl (BioASQ Task B golden files; evaluation only, never
training). Questions are drawn with a fixed seed among those with at least one snippet. For each
question the candidate pool is:
  gold       its own snippets (distinct texts, at most --max-gold, drawn with the seed), label 1;
  hard       the other questions' snippets that BM25 ranks highest for the question (--hard of
             them), label 0;
  random     other questions' snippets drawn at random until the pool has --pool candidates, label 0.
A snippet never counts as a negative for a question when it comes from one of the question's own
gold documents (pmid), has the text of one of its gold snippets, or belongs to a question with the
same wording (BioASQ repeats some questions across years). BM25 (rank-bm25 BM25Okapi, over every
distinct snippet of the file, lower-cased word tokens, a few stop words removed) scores each
candidate; the pool is shuffled with the seed first, so ties never favour gold.

Reported, over the questions: nDCG@10 (binary gains) and MRR@10 for
  bm25             the pool ranked by BM25 score;
  bm25+model       the same pool reranked by the cross-encoder's score (sentence-transformers
                   CrossEncoder.predict, sigmoid);
  fusion           for reference only: the mean of BM25's and the model's (logit) z-scores per pool;
  package          with --package: the same pool reranked by this package's scores (the
                   `torch-cross-encoder score` command, built dist/cli.js, on the CPU), with the
                   largest difference from sentence-transformers' scores over every pair;
and, with --exported, the largest difference between sentence-transformers' scores and the
exported TorchScript model.pt's (run in Python with the same tokenizer) on the first
--check-pairs pairs.

Long documents (--long-documents; docs/LONG-DOCUMENTS.md): the same pools, each candidate snippet
made into a long document. BioASQ's gold documents are almost never among the full abstracts of
../shared/data/pubmed_abstracts.jsonl (3 of 1573 questions), so a document is built from what
there is: real PubMed abstracts unrelated to the question (drawn with the seed; never one of the
question's own pmids), joined until they hold at least --filler-words words, with the candidate
snippet inserted whole at a sentence boundary drawn uniformly among the filler's sentence
boundaries (its start, its end and each ". " between). Gold and negative documents are built the
same way, so only the inserted snippet tells them apart, and a gold snippet lies past the first
window of its document more often the shorter the window. The pools are scored by this package's
library (scripts/bench/long-doc-scores.mjs, built dist/, CPU) in each --long-runs run (maxLength and
longDocuments modes), and ranked by that score alone; reported: nDCG@10 and MRR@10 per
(maxLength, mode), the pairs (windows) scored, and where the gold snippets lie.

--json writes the figures; --pairs writes every scored pair as JSONL
{qid, query, document, label, bm25, st_score} (BioASQ text: keep it out of the repository), so
another implementation can score the same pairs and be compared.
"""
import argparse
import atexit
import datetime
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
STOP = set("""a an and are as at be by for from has have in into is it its of on or that the their this to was
were which with we our not no than these those between after during among via vs versus what how does do
did is are which who when why can""".split())
TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def log(message):
    print(f"[eval-reranker] {message}", file=sys.stderr, flush=True)


def terms(text):
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP]


def ndcg_at(labels, k=10):
    dcg = sum(l / math.log2(i + 2) for i, l in enumerate(labels[:k]))
    ideal = sorted(labels, reverse=True)
    idcg = sum(l / math.log2(i + 2) for i, l in enumerate(ideal[:k]))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at(labels, k=10):
    for i, l in enumerate(labels[:k]):
        if l > 0:
            return 1.0 / (i + 1)
    return 0.0


def ranked_labels(pool, key):
    order = sorted(range(len(pool)), key=lambda i: -pool[i][key])  # stable: ties keep the shuffled order
    return [pool[i]["label"] for i in order]


def build_pools(args, rng):
    from rank_bm25 import BM25Okapi

    questions = []
    with open(os.path.join(DATA, "bioasq_questions_all.jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q.get("snippets"):
                questions.append(q)
    # Every distinct snippet text, with the questions (ids), pmids and question wordings it comes from.
    snippets, index = [], {}
    for q in questions:
        for s in q["snippets"]:
            t = s["text"].strip()
            if not t:
                continue
            if t not in index:
                index[t] = len(snippets)
                snippets.append({"text": t, "qids": set(), "pmids": set(), "bodies": set()})
            e = snippets[index[t]]
            e["qids"].add(q["id"])
            e["pmids"].add(s.get("pmid") or "")
            e["bodies"].add(q["body"].strip().lower())
    log(f"{len(questions)} questions with snippets, {len(snippets)} distinct snippets; indexing with BM25")
    bm25 = BM25Okapi([terms(s["text"]) for s in snippets])

    chosen = rng.sample(questions, min(args.n, len(questions)))
    pools = []
    for q in chosen:
        body = q["body"].strip().lower()
        gold_texts = []
        for s in q["snippets"]:
            t = s["text"].strip()
            if t and t not in gold_texts:
                gold_texts.append(t)
        if len(gold_texts) > args.max_gold:
            gold_texts = rng.sample(gold_texts, args.max_gold)
        gold_set = set(gold_texts)
        own_pmids = set(q.get("documents") or []) | {s.get("pmid") for s in q["snippets"]}

        def negative_ok(i):
            s = snippets[i]
            return (s["text"] not in gold_set and q["id"] not in s["qids"] and not (s["pmids"] & own_pmids)
                    and body not in s["bodies"])

        scores = bm25.get_scores(terms(q["body"]))
        hard = []
        for i in sorted(range(len(snippets)), key=lambda i: -scores[i]):
            if len(hard) >= args.hard:
                break
            if negative_ok(i):
                hard.append(i)
        taken = set(hard)
        n_random = max(0, args.pool - len(gold_texts) - len(hard))
        rand = []
        while len(rand) < n_random:
            i = rng.randrange(len(snippets))
            if i not in taken and negative_ok(i):
                taken.add(i)
                rand.append(i)
        pool = [{"document": t, "label": 1, "kind": "gold", "bm25": float(scores[index[t]])} for t in gold_texts]
        pool += [{"document": snippets[i]["text"], "label": 0, "kind": "hard", "bm25": float(scores[i])} for i in hard]
        pool += [{"document": snippets[i]["text"], "label": 0, "kind": "random", "bm25": float(scores[i])}
                 for i in rand]
        rng.shuffle(pool)
        pools.append({"qid": q["id"], "query": q["body"].strip(), "type": q["type"], "pool": pool})
    return pools


def build_long_documents(args, pools, rng):
    """Each candidate snippet inserted at a random sentence boundary of real unrelated abstracts."""
    abstracts = []
    with open(os.path.join(DATA, "pubmed_abstracts.jsonl"), encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            abstracts.append((a["pmid"], " ".join(a["text"].split())))
    questions = {}
    with open(os.path.join(DATA, "bioasq_questions_all.jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            questions[q["id"]] = q
    positions = []
    for p in pools:
        q = questions[p["qid"]]
        own = {d.rstrip("/").split("/")[-1] for d in (q.get("documents") or [])} | {s.get("pmid") for s in q["snippets"]}
        for c in p["pool"]:
            parts, words = [], 0
            while words < args.filler_words:
                pmid, text = abstracts[rng.randrange(len(abstracts))]
                if pmid in own:
                    continue
                parts.append(text)
                words += len(text.split())
            filler = " ".join(parts)
            cuts = [0] + [m.end() for m in re.finditer(r"\. ", filler)] + [len(filler)]
            cut = cuts[rng.randrange(len(cuts))]
            c["snippet"] = c["document"]
            c["document"] = (filler[:cut] + c["snippet"] + " " + filler[cut:]).strip()
            c["snippet_at"] = cut / len(filler)
            if c["label"]:
                positions.append(c["snippet_at"])
    return positions


def long_documents_eval(args, pools, rng):
    import numpy as np

    positions = build_long_documents(args, pools, rng)
    work = tempfile.mkdtemp(prefix="eval-reranker-long-")
    atexit.register(shutil.rmtree, work, True)
    source, scored = os.path.join(work, "pools.jsonl"), os.path.join(work, "scores.json")
    with open(source, "w", encoding="utf-8") as f:
        for p in pools:
            f.write(json.dumps({"query": p["query"], "documents": [c["document"] for c in p["pool"]]}, ensure_ascii=False) + "\n")
    if not os.path.exists(os.path.join(ROOT, "dist", "index.js")):
        sys.exit("eval-reranker.py: dist/index.js is missing: run `npx tsc -p tsconfig.json` first")
    run = subprocess.run(["node", os.path.join(ROOT, "scripts", "bench", "long-doc-scores.mjs"), args.model, source, scored,
                          args.long_runs])
    if run.returncode != 0:
        sys.exit("eval-reranker.py: long-doc-scores.mjs failed")
    with open(scored) as f:
        scores = json.load(f)
    words = [len(c["document"].split()) for p in pools for c in p["pool"]]
    result = {
        "date": datetime.date.today().isoformat(),
        "model": args.model_name or os.path.basename(os.path.normpath(args.model)),
        "variant": "long documents: each candidate snippet inserted whole at a random sentence boundary of real, "
                   "unrelated PubMed abstracts (pubmed_abstracts.jsonl, never one of the question's own pmids) joined "
                   f"until they hold at least {args.filler_words} words; gold and negatives built the same way; "
                   "ranked by the package's score alone (no BM25 in the ranking)",
        "data": "bioasq_questions_all.jsonl (BioASQ Task B golden; evaluation only), pubmed_abstracts.jsonl",
        "questions": len(pools), "pool": args.pool, "hard_negatives": args.hard, "max_gold": args.max_gold,
        "documents": len(words), "gold_documents": len(positions), "seed": args.seed,
        "document_words": {"median": int(np.median(words)), "min": int(min(words)), "max": int(max(words))},
        "gold_snippet_position_in_filler": {
            "first_sentence_boundary_share": round(float(np.mean([x == 0 for x in positions])), 4),
            "past_a_quarter_share": round(float(np.mean([x > 0.25 for x in positions])), 4),
            "past_half_share": round(float(np.mean([x > 0.5 for x in positions])), 4),
        },
        "scoring": "torch-cross-encoder rank() per question, CPU, 2 threads, stride default (a quarter of the window)",
        "results": {},
    }
    for max_length, by_mode in scores.items():
        result["results"][f"maxLength {max_length}"] = {}
        for mode, r in by_mode.items():
            key = f"{max_length}:{mode}"
            for p, row in zip(pools, r["scores"]):
                for c, v in zip(p["pool"], row):
                    c[key] = v
            nd = [ndcg_at(ranked_labels(p["pool"], key)) for p in pools]
            mr = [mrr_at(ranked_labels(p["pool"], key)) for p in pools]
            result["results"][f"maxLength {max_length}"][mode] = {
                "ndcg@10": round(float(np.mean(nd)), 4), "mrr@10": round(float(np.mean(mr)), 4),
                "pairs_scored": r["windows"], "seconds": r["seconds"]}
            log(f"maxLength {max_length} {mode}: nDCG@10 {np.mean(nd):.4f} MRR@10 {np.mean(mr):.4f} ({r['windows']} pairs)")
    return result


def st_model_dir(model, work):
    """A CrossEncoder save for `model`: itself, or rebuilt from an exported model directory."""
    if not os.path.exists(os.path.join(model, "model.pt")):
        return model, None
    out = os.path.join(work, "st-model")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "st-from-export.py"), model, out], check=True,
                   stdout=subprocess.DEVNULL)
    log(f"{model} is an exported model directory: rebuilt as a CrossEncoder save from model.pt's weights")
    return out, model


def package_scores(model, pairs, work):
    """Scores from this package's CLI (dist/cli.js score, CPU), in input order."""
    cli = os.path.join(ROOT, "dist", "cli.js")
    if not os.path.exists(cli):
        sys.exit("eval-reranker.py: dist/cli.js is missing: run `npm run build:ts` (or bash scripts/setup.sh) first")
    source = os.path.join(work, "pairs-in.jsonl")
    with open(source, "w", encoding="utf-8") as f:
        for q, d in pairs:
            f.write(json.dumps({"query": q, "document": d}, ensure_ascii=False) + "\n")
    started = time.time()
    run = subprocess.run(["node", cli, "score", model, source, "--device", "cpu"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"eval-reranker.py: torch-cross-encoder score failed:\n{run.stderr}")
    seconds = time.time() - started
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    if [r["line"] for r in rows] != list(range(1, len(pairs) + 1)):
        sys.exit("eval-reranker.py: torch-cross-encoder score did not return one score per pair in order")
    return [float(r["score"]) for r in rows], seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="CrossEncoder save, or a model directory made by export.py")
    parser.add_argument("--package", action="store_true", help="also score with this package (dist/cli.js, CPU)")
    parser.add_argument("--exported", help="exported model directory (model.pt) to check against ST")
    parser.add_argument("--check-pairs", type=int, default=256)
    parser.add_argument("--n", type=int, default=200, help="questions")
    parser.add_argument("--pool", type=int, default=50, help="candidates per question")
    parser.add_argument("--hard", type=int, default=20, help="BM25-hard negatives per question")
    parser.add_argument("--max-gold", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", help="figures (e.g. bench/results/rerank-eval-DATE.json)")
    parser.add_argument("--pairs", help="scored pairs, JSONL")
    parser.add_argument("--model-name", default=None, help="name for the model in the JSON")
    parser.add_argument("--long-documents", action="store_true",
                        help="the long-document variant (snippets inside real abstracts), scored by the package")
    parser.add_argument("--filler-words", type=int, default=250, help="long documents: words of filler at least")
    parser.add_argument("--long-runs", default="512:truncate+max,128:truncate+max+mean",
                        help="long documents: maxLength:mode+mode,... (longDocuments modes per maxLength)")
    args = parser.parse_args()

    import numpy as np
    import torch
    import transformers
    import sentence_transformers
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    pools = build_pools(args, rng)
    if args.long_documents:
        result = long_documents_eval(args, pools, rng)
        print(json.dumps(result, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
        return
    pairs = [(p["query"], c["document"]) for p in pools for c in p["pool"]]
    log(f"{len(pools)} questions, {len(pairs)} pairs "
        f"({sum(c['label'] for p in pools for c in p['pool'])} gold)")

    work = tempfile.mkdtemp(prefix="eval-reranker-")
    atexit.register(shutil.rmtree, work, True)  # the rebuilt save is ~90 MB: never leave it behind
    st_dir, exported = st_model_dir(args.model, work)
    args.exported = args.exported or exported
    model = CrossEncoder(st_dir, local_files_only=True, device="cpu")
    started = time.time()
    scores = model.predict(pairs, batch_size=args.batch_size, show_progress_bar=True, convert_to_numpy=True)
    seconds = time.time() - started
    log(f"scored {len(pairs)} pairs in {seconds:.0f} s ({len(pairs) / seconds:.1f} pairs/s)")
    k = 0
    for p in pools:
        for c in p["pool"]:
            c["st_score"] = float(scores[k])
            k += 1

    def figures(key):
        nd = [ndcg_at(ranked_labels(p["pool"], key)) for p in pools]
        mr = [mrr_at(ranked_labels(p["pool"], key)) for p in pools]
        return {"ndcg@10": round(float(np.mean(nd)), 4), "mrr@10": round(float(np.mean(mr)), 4)}, nd, mr

    if args.package:
        ours, package_seconds = package_scores(args.model, pairs, work)
        k = 0
        for p in pools:
            for c in p["pool"]:
                c["package_score"] = ours[k]
                k += 1
        package_diff = float(np.abs(np.array(ours) - scores).max())
        log(f"package scored {len(pairs)} pairs in {package_seconds:.0f} s (process start and model load included); "
            f"max |package - sentence-transformers| {package_diff:.2e}")

    # Fusion, for reference: the mean of BM25's and the model's logit z-scores within each pool
    # (equal weights, fixed in advance, not tuned).
    for p in pools:
        b = np.array([c["bm25"] for c in p["pool"]])
        s = np.clip(np.array([c["st_score"] for c in p["pool"]]), 1e-7, 1 - 1e-7)
        s = np.log(s / (1 - s))
        fused = 0.5 * (b - b.mean()) / (b.std() + 1e-9) + 0.5 * (s - s.mean()) / (s.std() + 1e-9)
        for c, f in zip(p["pool"], fused):
            c["fused"] = float(f)

    bm, bm_nd, bm_mr = figures("bm25")
    st, st_nd, st_mr = figures("st_score")
    fu, _, _ = figures("fused")
    # Paired bootstrap over questions for the nDCG@10 difference.
    diffs = np.array(st_nd) - np.array(bm_nd)
    boot_rng = np.random.default_rng(args.seed)
    boots = [diffs[boot_rng.integers(0, len(diffs), len(diffs))].mean() for _ in range(2000)]
    ci = [round(float(np.percentile(boots, 2.5)), 4), round(float(np.percentile(boots, 97.5)), 4)]
    if args.package:
        pk, pk_nd, _ = figures("package_score")
    result = {
        "date": datetime.date.today().isoformat(),
        "model": args.model_name or os.path.basename(os.path.normpath(args.model)),
        "data": "bioasq_questions_all.jsonl (BioASQ Task B golden; evaluation only)",
        "questions": len(pools), "pool": args.pool, "hard_negatives": args.hard, "max_gold": args.max_gold,
        "pairs": len(pairs), "gold_pairs": int(sum(c["label"] for p in pools for c in p["pool"])),
        "seed": args.seed,
        "bm25": bm,
        "bm25+model": st,
        "bm25_model_fusion_reference": fu,
        **({"bm25+package": pk,
            "package_vs_st_max_abs_diff": package_diff,
            "questions_package_ranking_differs_ndcg": int(sum(abs(a - b) > 1e-9 for a, b in zip(pk_nd, st_nd))),
            "package_scoring": {"pairs_per_s_cli_cpu_including_startup": round(len(pairs) / package_seconds, 1)}}
           if args.package else {}),
        "ndcg@10_gain": round(st["ndcg@10"] - bm["ndcg@10"], 4),
        "ndcg@10_gain_95ci_bootstrap": ci,
        "questions_model_better_ndcg": int((diffs > 1e-9).sum()),
        "questions_model_worse_ndcg": int((diffs < -1e-9).sum()),
        "by_type": {},
        "scoring": {"pairs_per_s_python_cpu": round(len(pairs) / seconds, 1), "threads": args.threads,
                    "batch_size": args.batch_size},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__},
    }
    for t in sorted({p["type"] for p in pools}):
        idx = [i for i, p in enumerate(pools) if p["type"] == t]
        result["by_type"][t] = {
            "questions": len(idx),
            "bm25_ndcg@10": round(float(np.mean([bm_nd[i] for i in idx])), 4),
            "model_ndcg@10": round(float(np.mean([st_nd[i] for i in idx])), 4),
        }

    if args.exported:
        tok = model.tokenizer
        # .float(): weights stored in float16 (export.py --half-storage) are upcast, as the package does.
        traced = torch.jit.load(os.path.join(args.exported, "model.pt"), map_location="cpu").eval().float()
        check = pairs[:args.check_pairs]
        out = []
        with torch.no_grad():
            for b in range(0, len(check), args.batch_size):
                chunk = check[b:b + args.batch_size]
                enc = tok([c[0] for c in chunk], [c[1] for c in chunk], padding=True, truncation="longest_first",
                          max_length=model.max_seq_length, return_tensors="pt")
                logits = traced(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])[0]
                out.append(torch.sigmoid(logits.view(-1)))
        out = torch.cat(out).numpy()
        result["exported_vs_st_max_abs_diff"] = float(np.abs(out - scores[:len(check)]).max())
        result["exported_check_pairs"] = len(check)
        log(f"exported model.pt vs sentence-transformers on {len(check)} pairs: "
            f"max |diff| {result['exported_vs_st_max_abs_diff']:.2e}")

    print(json.dumps(result, indent=2))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if args.pairs:
        with open(args.pairs, "w", encoding="utf-8") as f:
            for p in pools:
                for c in p["pool"]:
                    f.write(json.dumps({"qid": p["qid"], "query": p["query"], "document": c["document"],
                                        "label": c["label"], "bm25": c["bm25"], "st_score": c["st_score"],
                                        **({"package_score": c["package_score"]} if args.package else {})},
                                       ensure_ascii=False) + "\n")
        log(f"pairs written to {args.pairs}")


if __name__ == "__main__":
    main()
