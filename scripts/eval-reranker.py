#!/usr/bin/env python3
"""Evaluate a cross-encoder as a reranker of BM25 candidate pools on BioASQ questions.

    .venv/bin/python scripts/eval-reranker.py --model DIR [--package] [--exported DIR] [--n 200]
        [--pool 50] [--hard 20] [--max-gold 10] [--seed 13] [--json OUT.json] [--pairs OUT.jsonl]

    npm run bench:rerank     the bundled model (models/biomed-minilm-ce), with --package, figures
                             to bench/results/rerank-eval-DATE.json
    .venv/bin/python scripts/eval-reranker.py --model DIR --long-documents [--n 40] [--pool 8] [--hard 3]
        [--seed 29] [--windows 64,96,128,192,256,384,full] [--modes max+mean] [--bootstrap 10000] [--check 2]
    npm run bench:rerank -- --long-documents     that, for the bundled model, to bench/results/rerank-long-DATE.json

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

Long documents (--long-documents; docs/LONG-DOCUMENTS.md; npm run bench:rerank -- --long-documents):
evidence placed after unrelated text. Questions: held out from everything else (heldout_questions():
not in bioasq_pairs.jsonl, which the tests' corpora and fixture sample come from, not among seed 13's
first 200 draws, which bench:rerank and the earlier long-document runs used, no shared wording; the
bundled model saw no BioASQ text at all), --n of them drawn with --seed. Each question gets --pool
documents (build_long_pools()): 2 or 3 real unrelated abstracts of ../shared/data/pubmed_abstracts.jsonl
(never the question's or the snippet's own pmids) followed by one snippet: one of the question's gold
snippets in one document (label 1), other held-out questions' gold snippets in the rest (--hard
BM25-hard ones, then random). scripts/bench/long-doc-scores.mjs scores them with this package's
library (built dist/, CPU): each document replaced by its snippet alone (the model's ceiling),
longDocuments 'truncate', and each --modes aggregation at each --windows window size (windowTokens).
Reported per row: MRR and nDCG@10 (one gold document per pool) with percentile 95% CIs from a
bootstrap over questions (--bootstrap resamples, the same for every row), windows scored per
document, the share of the snippet-alone MRR, and for 'max' the paired CI of the difference from
the best 'max' row; then the default window by rule: the smallest whose 'max' MRR is within noise
of the best (that CI reaches 0) and at least 0.85 x the snippet-alone MRR. The JSON holds what
reproduces it (seed, qids, each document's snippet qids and filler pmids, settings, per-question
reciprocal ranks and windows) and no BioASQ text.

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


def snippet_index(questions, clean):
    """Every distinct snippet text (as `clean` writes it), with the questions (ids), pmids and question
    wordings it comes from; and each text's index in that list."""
    snippets, index = [], {}
    for q in questions:
        for s in q["snippets"]:
            t = clean(s["text"])
            if not t:
                continue
            if t not in index:
                index[t] = len(snippets)
                snippets.append({"text": t, "qids": set(), "pmids": set(), "bodies": set()})
            e = snippets[index[t]]
            e["qids"].add(q["id"])
            e["pmids"].add(s.get("pmid") or "")
            e["bodies"].add(q["body"].strip().lower())
    return snippets, index


def bm25_negatives(scores, count, ok):
    """The `count` snippets with the highest BM25 `scores` for a question among those `ok` accepts (indices)."""
    out = []
    for i in sorted(range(len(scores)), key=lambda i: -scores[i]):
        if len(out) >= count:
            break
        if ok(i):
            out.append(i)
    return out


def random_negatives(rng, n, count, taken, ok):
    """`count` more snippets (indices below n) drawn with rng, none in `taken` (updated) and each one `ok` accepts."""
    out = []
    while len(out) < count:
        i = rng.randrange(n)
        if i not in taken and ok(i):
            taken.add(i)
            out.append(i)
    return out


def build_pools(args, rng):
    from rank_bm25 import BM25Okapi

    questions = []
    with open(os.path.join(DATA, "bioasq_questions_all.jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q.get("snippets"):
                questions.append(q)
    snippets, index = snippet_index(questions, str.strip)
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
        hard = bm25_negatives(scores, args.hard, negative_ok)
        rand = random_negatives(rng, len(snippets), max(0, args.pool - len(gold_texts) - len(hard)), set(hard), negative_ok)
        pool = [{"document": t, "label": 1, "kind": "gold", "bm25": float(scores[index[t]])} for t in gold_texts]
        pool += [{"document": snippets[i]["text"], "label": 0, "kind": "hard", "bm25": float(scores[i])} for i in hard]
        pool += [{"document": snippets[i]["text"], "label": 0, "kind": "random", "bm25": float(scores[i])}
                 for i in rand]
        rng.shuffle(pool)
        pools.append({"qid": q["id"], "query": q["body"].strip(), "type": q["type"], "pool": pool})
    return pools


def read_jsonl(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def heldout_questions(questions, seed_draws=200, old_seed=13):
    """The BioASQ questions of the long-document bench: those no test and no earlier bench run uses.

    Left out: every question of bioasq_pairs.jsonl (the tests' tokenizer corpora; the committed
    test/fixtures/tokenizer/bioasq_pairs_sample.jsonl is drawn from it, and its qids are checked too),
    the first `seed_draws` questions eval-reranker.py draws with seed `old_seed` (rng.sample has the
    prefix property, so that is every run of bench:rerank and of the earlier long-document benches
    with that seed and --n up to 200), and any question with the same wording as one left out
    (BioASQ repeats questions across years). The bundled model saw no BioASQ text in training
    (models/biomed-minilm-ce/README.md), so every question is held out from it.
    """
    used = {p["qid"] for p in read_jsonl("bioasq_pairs.jsonl")}
    sample = os.path.join(ROOT, "test", "fixtures", "tokenizer", "bioasq_pairs_sample.jsonl")
    if os.path.exists(sample):
        with open(sample, encoding="utf-8") as f:
            used |= {json.loads(line)["qid"] for line in f if line.strip()}
    old = {q["id"] for q in random.Random(old_seed).sample(questions, min(seed_draws, len(questions)))}
    out = {"bioasq_pairs_qids": len(used), f"seed_{old_seed}_draws": len(old)}
    left_out = used | old
    bodies = {q["body"].strip().lower() for q in questions if q["id"] in left_out}
    kept = [q for q in questions if q["id"] not in left_out and q["body"].strip().lower() not in bodies]
    out.update({"questions_with_snippets": len(questions), "held_out": len(kept)})
    return kept, out


def build_long_pools(args, questions, rng):
    """The issue-29 setup: per question `--pool` documents, each 2-3 unrelated abstracts + a snippet at its end.

    One document ends with one of the question's gold snippets (drawn with the seed), label 1; the
    others end with other held-out questions' gold snippets, label 0: the `--hard` that BM25 ranks
    highest for the question, then random ones (the same negative rules as build_pools). The filler
    of every document is 2 or 3 (drawn) distinct real abstracts of pubmed_abstracts.jsonl, none of
    them one of the question's own or the snippet's own pmids, joined by spaces.
    """
    from rank_bm25 import BM25Okapi

    snippets, _ = snippet_index(questions, lambda t: " ".join(t.split()))
    bm25 = BM25Okapi([terms(s["text"]) for s in snippets])
    abstracts = [(a["pmid"], " ".join(a["text"].split())) for a in read_jsonl("pubmed_abstracts.jsonl")]

    def pmid_of(d):
        return (d or "").rstrip("/").split("/")[-1]

    pools = []
    for q in rng.sample(questions, min(args.n, len(questions))):
        body = q["body"].strip().lower()
        gold_texts = list(dict.fromkeys(" ".join(s["text"].split()) for s in q["snippets"] if s["text"].strip()))
        gold = rng.choice(gold_texts)
        own_pmids = {pmid_of(d) for d in (q.get("documents") or [])} | {s.get("pmid") for s in q["snippets"]}

        def negative_ok(i):
            s = snippets[i]
            return (s["text"] not in gold_texts and q["id"] not in s["qids"] and not (s["pmids"] & own_pmids)
                    and body not in s["bodies"])

        hard = bm25_negatives(bm25.get_scores(terms(q["body"])), args.hard, negative_ok)
        rand = random_negatives(rng, len(snippets), args.pool - 1 - len(hard), set(hard), negative_ok)
        negatives = [(i, "hard") for i in hard] + [(i, "random") for i in rand]
        pool = [{"snippet": gold, "label": 1, "kind": "gold", "snippet_qids": [q["id"]], "pmids": own_pmids}]
        pool += [{"snippet": snippets[i]["text"], "label": 0, "kind": kind, "snippet_qids": sorted(snippets[i]["qids"]),
                  "pmids": snippets[i]["pmids"]} for i, kind in negatives]
        for c in pool:
            banned = own_pmids | c.pop("pmids")
            filler = []
            count = rng.choice((2, 3))
            while len(filler) < count:
                k = rng.randrange(len(abstracts))
                if abstracts[k][0] not in banned and k not in filler:
                    filler.append(k)
            c["filler_pmids"] = [abstracts[k][0] for k in filler]
            c["document"] = " ".join(abstracts[k][1] for k in filler) + " " + c["snippet"]
        rng.shuffle(pool)
        pools.append({"qid": q["id"], "query": q["body"].strip(), "type": q["type"], "pool": pool})
    return pools


def gold_rank(pool, scores):
    """1-based rank of the gold document; ties keep the shuffled pool order (so never favour gold)."""
    order = sorted(range(len(pool)), key=lambda i: -scores[i])
    return 1 + next(r for r, i in enumerate(order) if pool[i]["label"])


def long_documents_eval(args, all_questions, rng):
    import numpy as np

    questions, selection = heldout_questions(all_questions)
    pools = build_long_pools(args, questions, rng)
    log(f"{selection['held_out']} held-out questions; {len(pools)} drawn with seed {args.seed}, pools of {args.pool}")
    drawn = len(pools)
    pools = pools[:args.first or None]
    work = tempfile.mkdtemp(prefix="eval-reranker-long-")
    atexit.register(shutil.rmtree, work, True)
    source, scored = os.path.join(work, "pools.jsonl"), os.path.join(work, "scores.json")
    with open(source, "w", encoding="utf-8") as f:
        for p in pools:
            f.write(json.dumps({"qid": p["qid"], "query": p["query"], "documents": [c["document"] for c in p["pool"]],
                                "snippets": [c["snippet"] for c in p["pool"]]}, ensure_ascii=False) + "\n")
    if not os.path.exists(os.path.join(ROOT, "dist", "index.js")):
        sys.exit("eval-reranker.py: dist/index.js is missing: run `npx tsc -p tsconfig.json` first")
    started = time.time()
    if args.scores:  # a finished (or stopped) run's scores of these same pools: analyse again without scoring
        scored = args.scores
    else:
        run = subprocess.run(["node", os.path.join(ROOT, "scripts", "bench", "long-doc-scores.mjs"), args.model, source,
                              scored, args.windows, args.modes, "--check", str(args.check)])
        if run.returncode != 0:
            log(f"long-doc-scores.mjs stopped (exit {run.returncode}); reporting the questions it finished")
    if not os.path.exists(scored):
        sys.exit("eval-reranker.py: long-doc-scores.mjs failed before finishing a question")
    with open(scored) as f:
        out = json.load(f)
    if out["done"] < len(pools):  # e.g. stopped by hand when time ran out
        log(f"scores for {out['done']} of {len(pools)} questions: reporting those")
    pools = pools[:out["done"]]
    minutes = None if args.scores else round((time.time() - started) / 60, 1)

    n, docs = len(pools), args.pool
    boot_rng = np.random.default_rng(args.seed)
    resample = boot_rng.integers(0, n, (args.bootstrap, n))  # one set of resamples for every row: paired

    def ci(values):
        b = values[resample].mean(axis=1)
        return [round(float(np.percentile(b, 2.5)), 4), round(float(np.percentile(b, 97.5)), 4)]

    rows, rr = {}, {}
    for name, r in out["settings"].items():
        ranks = np.array([gold_rank(p["pool"], s) for p, s in zip(pools, r["scores"])])
        rr[name] = 1.0 / ranks
        nd = 1.0 / np.log2(ranks + 1)
        rows[name] = {"mrr": round(float(rr[name].mean()), 4), "mrr_95ci": ci(rr[name]),
                      "ndcg@10": round(float(nd.mean()), 4), "ndcg@10_95ci": ci(nd),
                      "gold_first": int((ranks == 1).sum()),
                      "windows_per_document": round(sum(r["windows"]) / (n * docs), 2),
                      "pairs_scored": int(sum(r["windows"])), "seconds": r["seconds"]}
    ceiling = rr["snippet"]
    for name in rows:
        ratio = rr[name][resample].mean(axis=1) / np.maximum(ceiling[resample].mean(axis=1), 1e-9)
        rows[name]["share_of_snippet_alone_mrr"] = round(float(rr[name].mean() / ceiling.mean()), 4)
        rows[name]["share_of_snippet_alone_mrr_95ci"] = [round(float(np.percentile(ratio, 2.5)), 4),
                                                          round(float(np.percentile(ratio, 97.5)), 4)]

    # The default: the smallest window whose 'max' MRR is within noise of the best 'max' row (the
    # paired bootstrap 95% CI of the difference reaches 0) and at least 0.85 x snippet-alone MRR.
    def size(name):
        w = name.split("@")[1]
        return out["maxLength"] if w == "full" else int(w)

    max_rows = sorted((k for k in rows if k.startswith("max@")), key=size)
    best = max(max_rows, key=lambda k: (rows[k]["mrr"], -size(k)))
    for k in max_rows:
        diff = (rr[k] - rr[best])[resample].mean(axis=1)
        rows[k]["mrr_minus_best_max_95ci"] = [round(float(np.percentile(diff, 2.5)), 4),
                                              round(float(np.percentile(diff, 97.5)), 4)]
    ok = [k for k in max_rows if rows[k]["mrr_minus_best_max_95ci"][1] >= 0
          and rows[k]["share_of_snippet_alone_mrr"] >= 0.85]
    default = ok[0] if ok else None
    # What a window size costs, measured: every row ran on the same questions, interleaved question by
    # question, so the rows shared the machine's load (more windows at small sizes, longer pairs at large).
    for k, r in out["settings"].items():
        rows[k]["ms_per_document"] = round(1000 * r["seconds"] / (n * docs), 1)
    fastest = min(ok, key=lambda k: rows[k]["seconds"]) if ok else None
    for k, r in rows.items():
        log(f"{k:>10}: MRR {r['mrr']:.3f} {r['mrr_95ci']} nDCG@10 {r['ndcg@10']:.3f} "
            f"windows/doc {r['windows_per_document']} ({r['seconds']} s)")
    log(f"best 'max' row {best}; within noise and >= 0.85 x snippet: {ok}; default by the rule (smallest): {default}; "
        f"fastest of those: {fastest}")

    import torch
    import transformers
    import sentence_transformers
    words = [len(c["document"].split()) for p in pools for c in p["pool"]]
    snippet_words = [len(c["snippet"].split()) for p in pools for c in p["pool"] if c["label"]]
    return {
        "date": datetime.date.today().isoformat(),
        "model": args.model_name or os.path.basename(os.path.normpath(args.model)),
        "setup": f"issue 29: {n} BioASQ questions x {docs} documents; every document is 2 or 3 real unrelated PubMed "
                 "abstracts (pubmed_abstracts.jsonl; never the question's or the snippet's own pmids) with one snippet "
                 "at its end: one of the question's gold snippets in one document (label 1), other held-out questions' "
                 f"gold snippets in the rest ({args.hard} BM25-hard, then random); ranked by the package's score alone",
        "data": "bioasq_questions_all.jsonl (BioASQ Task B golden; evaluation only), pubmed_abstracts.jsonl",
        "question_selection": {
            **selection,
            "rule": "held out: not in bioasq_pairs.jsonl (the tests' corpora and fixture sample), not among the first "
                    "200 questions eval-reranker.py draws with seed 13 (bench:rerank and the earlier long-document "
                    "runs), no wording shared with those; then random.Random(seed).sample(held_out, drawn) over "
                    "bioasq_questions_all.jsonl's questions with snippets, in file order; the first `n` of those scored "
                    "(reproduce with --n drawn --first n: sample() draws differently for another count)",
            "seed": args.seed, "drawn": drawn, "n": n, "qids": [p["qid"] for p in pools]},
        "pool": docs, "hard_negatives": args.hard,
        "document_words": {"median": int(np.median(words)), "min": int(min(words)), "max": int(max(words))},
        "gold_snippet_words": {"median": int(np.median(snippet_words)), "max": int(max(snippet_words))},
        "scoring": {"by": "torch-cross-encoder rank() per question (scripts/bench/long-doc-scores.mjs, built dist/), "
                          "CPU, 2 threads; stride default (a quarter of the window)",
                    "window_sizes_through": out["api"], "model_max_length": out["maxLength"],
                    "max_and_mean": "each window size scored once with the package's planWindows + predict(), "
                                    "aggregated by its aggregate() per mode; windows and seconds are per mode as if alone",
                    "check_against_rank": out["check"],
                    "windows": args.windows, "modes": args.modes, "minutes": minutes},
        "bootstrap": {"resamples": args.bootstrap, "over": "questions", "seed": args.seed,
                      "ci": "percentile 95%, the same resamples for every row (paired differences)"},
        "rows": rows,
        "default_rule": "smallest window whose 'max' MRR is within noise of the best 'max' row (paired bootstrap 95% "
                        "CI of the difference reaches 0) and at least 0.85 x the snippet-alone MRR",
        "best_max_row": best, "default": default,
        "qualifying_max_rows": ok, "fastest_qualifying_max_row": fastest,
        "per_question": [{"qid": p["qid"], "gold_at": next(i for i, c in enumerate(p["pool"]) if c["label"]),
                          "documents": [{"snippet_qids": c["snippet_qids"], "kind": c["kind"], "filler_pmids": c["filler_pmids"]}
                                        for c in p["pool"]],
                          "query_tokens": out["queryTokens"][k],
                          "reciprocal_rank": {name: round(float(rr[name][k]), 4) for name in rr},
                          "windows": {name: out["settings"][name]["windows"][k] for name in rr}}
                         for k, p in enumerate(pools)],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__, "node": subprocess.run(
                         ["node", "--version"], capture_output=True, text=True).stdout.strip()},
    }


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
    parser.add_argument("--windows", default="64,96,128,192,256,384,full",
                        help="long documents: window sizes in document tokens (full: the model's maxLength)")
    parser.add_argument("--modes", default="max+mean", help="long documents: longDocuments aggregations")
    parser.add_argument("--check", type=int, default=2,
                        help="long documents: questions also ranked through the public rank() to check the scores")
    parser.add_argument("--scores", help="long documents: long-doc-scores.mjs output of these pools (skip scoring)")
    parser.add_argument("--first", type=int, default=0,
                        help="long documents: score only the first FIRST of the --n questions drawn (0: all)")
    parser.add_argument("--bootstrap", type=int, default=10000, help="long documents: bootstrap resamples")
    args = parser.parse_args()

    import numpy as np
    import torch
    import transformers
    import sentence_transformers
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    if args.long_documents:
        questions = [q for q in read_jsonl("bioasq_questions_all.jsonl") if q.get("snippets")]
        result = long_documents_eval(args, questions, rng)
        print(json.dumps({k: v for k, v in result.items() if k != "per_question"}, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
                f.write("\n")
        return
    pools = build_pools(args, rng)
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
