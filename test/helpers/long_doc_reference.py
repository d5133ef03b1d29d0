#!/usr/bin/env python3
"""Reference for long documents (docs/LONG-DOCUMENTS.md), computed independently of the package.

Runs in a project environment with sentence-transformers (.venv). No network: HF_HUB_OFFLINE is set.

  long_doc_reference.py --requests requests.json --out out.json

Each request: {"model": ST_DIR, "max_length": M, "window_tokens": W, "mode": "max"|"mean"|"first", "stride": S|null,
               "items": [[query, document], ...], "windows": null | [[[start, end], ...], ...]}

Windows (unless given) come from Hugging Face's fast tokenizer of the saved model, not from our
tokenizer: a pair that fits in M is one window, the whole document. Otherwise the document is
split at Unicode White_Space into pieces, and each piece's token count is read from the offsets of
the WHOLE document's tokenization (each token belongs to the piece holding its first character);
windows then take whole pieces greedily while they fit in M - query tokens - the pair's special
tokens, and the next window starts at the earliest piece after the window's first piece such
that the pieces from there to the window's end hold at most `stride` tokens (default: a quarter of
the budget). Every window's pair is encoded to check that it fits, and its text is encoded alone
to check that its tokens are exactly the document's tokens in the window's token range.

Every window is scored by sentence_transformers.CrossEncoder.predict; a document's score is the
max over windows (one-label), the mean per label, or the first window's.

Writes {"results": [{"windows": [[[start, end], ...], ...], "token_ranges": [[[t0, t1], ...], ...]
        (null for a document that fits), "doc_tokens": [N, ...], "scores": [...]}, ...]}.
"""
import argparse
import bisect
import json
import os
import re

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

# Unicode White_Space (the Zs category plus the controls and separators that are White_Space).
ZS = "\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
PIECE = re.compile(f"[^\t\n\u000b\u000c\r\u0085\u2028\u2029{ZS}]+")


def windows_of(tokenizer, query, doc, max_length, window_tokens, stride):
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    budget = max_length - specials - len(tokenizer(query, add_special_tokens=False)["input_ids"])
    assert budget >= 1, "the query leaves no room"
    budget = min(budget, window_tokens)
    if len(tokenizer(doc, add_special_tokens=False)["input_ids"]) <= budget:
        return [(0, len(doc))], None, None
    stride = budget // 4 if stride is None else stride
    pieces = [(m.start(), m.end()) for m in PIECE.finditer(doc)]
    starts = [s for s, _ in pieces]
    enc = tokenizer(doc, add_special_tokens=False, return_offsets_mapping=True)
    counts = [0] * len(pieces)
    first_token = [None] * len(pieces)
    for t, (s, e) in enumerate(enc["offset_mapping"]):
        p = bisect.bisect_right(starts, s) - 1
        assert p >= 0 and s < pieces[p][1], f"token {t} at {s} is not inside a piece"
        counts[p] += 1
        if first_token[p] is None:
            first_token[p] = t
    assert max(counts) <= budget, "a piece longer than the window: not handled by this reference"
    n_tokens = len(enc["input_ids"])
    token_start = []  # the document token index where each piece starts
    nxt = n_tokens
    for p in range(len(pieces) - 1, -1, -1):
        if first_token[p] is not None:
            nxt = first_token[p]
        token_start.append(nxt)
    token_start.reverse()

    def token_end(p):
        return token_start[p] + counts[p]

    windows, ranges = [], []
    i = 0
    while i < len(pieces):
        j, total = i, counts[i]
        while j + 1 < len(pieces) and total + counts[j + 1] <= budget:
            j += 1
            total += counts[j]
        start, end = pieces[i][0], pieces[j][1]
        text = doc[start:end]
        assert len(tokenizer(query, text)["input_ids"]) <= max_length, "a window does not fit"
        t0, t1 = token_start[i], token_end(j)
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == enc["input_ids"][t0:t1], \
            "a window's tokens are not the document's"
        windows.append((start, end))
        ranges.append((t0, t1))
        if j == len(pieces) - 1:
            break
        k, overlap = j + 1, 0
        while k - 1 > i and overlap + counts[k - 1] <= stride:
            k -= 1
            overlap += counts[k]
        i = k
    return windows, ranges, n_tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from sentence_transformers import CrossEncoder

    with open(args.requests) as f:
        requests = json.load(f)
    models = {}
    results = []
    for r in requests:
        model = models.get(r["model"]) or models.setdefault(r["model"], CrossEncoder(r["model"], device="cpu"))
        tokenizer = model.tokenizer
        windows, ranges, doc_tokens = [], [], []
        for n, (query, doc) in enumerate(r["items"]):
            if r.get("windows"):
                windows.append([tuple(w) for w in r["windows"][n]])
                ranges.append(None)
                doc_tokens.append(None)
                continue
            w, t, count = windows_of(tokenizer, query, doc, r["max_length"], r["window_tokens"], r.get("stride"))
            if r["mode"] == "first":
                w, t = w[:1], (t[:1] if t else t)
            windows.append(w)
            ranges.append(t)
            doc_tokens.append(count)
        pairs = [(query, doc[s:e]) for (query, doc), ws in zip(r["items"], windows) for s, e in ws]
        flat = np.asarray(model.predict(pairs, batch_size=16, show_progress_bar=False, convert_to_numpy=True))
        flat = flat.reshape(len(pairs), -1)
        scores, at = [], 0
        for ws in windows:
            rows = flat[at:at + len(ws)]
            at += len(ws)
            row = rows.max(axis=0) if r["mode"] == "max" else rows.mean(axis=0) if r["mode"] == "mean" else rows[0]
            scores.append(row.tolist() if row.shape[0] > 1 else float(row[0]))
        results.append({"windows": windows, "token_ranges": ranges, "doc_tokens": doc_tokens, "scores": scores})
    with open(args.out, "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
