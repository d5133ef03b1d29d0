#!/usr/bin/env python3
"""Reference for long documents (docs/LONG-DOCUMENTS.md), computed independently of the package.

Runs in a project environment with sentence-transformers (.venv). No network: HF_HUB_OFFLINE is set.

  long_doc_reference.py --requests requests.json --out out.json

Each request: {"model": ST_DIR, "max_length": M, "window_tokens": W, "mode": "max"|"mean"|"first",
               "stride": S|null, "items": [[query, document], ...],
               "windows": null | [[[start, end], ...], ...]}

Windows (unless given) come from Hugging Face's fast tokenizer of the saved model, not from our
tokenizer: the document is encoded alone (no special tokens) with offsets and word ids. The window
holds B = min(W, M - query tokens - the pair's special tokens) tokens; a document of at most B
tokens is one window, the whole document. Otherwise windows take at most B tokens, ending before
the last token within reach that starts a word (word id changes) after a space, in the window's
second half (from B // 2 rounded up), else before the last that starts a word; the next window
starts at the earliest such word start (after a space first) after the window's first token that
leaves at most `stride` tokens shared (default: B // 4), or at the window's end. A window's text
runs from the end of the token before it (0 for the first) to the end of its last token, with any
characters after that before the next token and before whitespace (combining marks a composing
normalizer folded into that token, which its offsets leave out); its passage from the start of its
first token to the same end.
Every window's pair is encoded to check that it fits, and its text is encoded alone to check that
its tokens are exactly the document's tokens in the window's token range.

Every window is scored by sentence_transformers.CrossEncoder.predict; a document's score is the
max over windows (one-label), the mean per label, or the first window's.

Offsets in and out are UTF-16 code units (JavaScript's string indices); Python's are code points.

Writes {"results": [{"windows": [[[start, end], ...], ...], "passages": [...] (same shape),
        "token_ranges": [[[t0, t1], ...], ...] (null for a document that fits), "doc_tokens": [N, ...],
        "scores": [...]}, ...]}.
"""
import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402


# Unicode White_Space.
WHITE_SPACE = set("\t\n\u000b\u000c\r \u0085\u2028\u2029\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                  "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000")


def utf16_index(text):
    """Code point index -> UTF-16 index, for every index 0..len(text)."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return out


def windows_of(tokenizer, query, doc, max_length, window_tokens, stride):
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    room = max_length - specials - len(tokenizer(query, add_special_tokens=False)["input_ids"])
    assert room >= 1, "the query leaves no room"
    budget = min(room, window_tokens)
    enc = tokenizer(doc, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets, words = enc["input_ids"], enc["offset_mapping"], enc.word_ids()
    n = len(ids)
    if n <= budget:
        return [(0, len(doc))], [(0, len(doc))], None, n
    stride = budget // 4 if stride is None else stride

    def starts_word(t):
        return t == 0 or words[t] != words[t - 1]

    def after_space(t):
        # A word preceded by a space (or whose offsets begin with one): it keeps its form as a
        # text's first word even where the pre-tokenizer adds a prefix space.
        start = offsets[t][0]
        return t == 0 or (starts_word(t) and ((start > 0 and doc[start - 1] == " ") or (start < len(doc) and doc[start] == " ")))

    def end_of_tokens(t):
        # The end of token t - 1, and the characters after it up to the next token and before any
        # whitespace: combining marks a composing normalizer folded into it (its offsets leave them out).
        end = offsets[t - 1][1]
        limit = max(end, offsets[t][0]) if t < n else len(doc)
        while end < limit and doc[end] not in WHITE_SPACE:
            end += 1
        return end

    windows, passages, ranges = [], [], []
    s = 0
    while True:
        e = min(n, s + budget)
        if e < n:
            cuts = [c for c in range(e, s + (budget + 1) // 2 - 1, -1) if after_space(c)] or [c for c in range(e, s, -1) if starts_word(c)]
            assert cuts, "a word longer than the window: not handled by this reference"
            e = cuts[0]
        start = 0 if s == 0 else end_of_tokens(s)
        end = end_of_tokens(e)
        text = doc[start:end]
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids[s:e], \
            f"a window's tokens are not the document's: {text[:60]!r}"
        assert len(tokenizer(query, text)["input_ids"]) <= max_length, "a window does not fit"
        windows.append((start, end))
        passages.append((offsets[s][0], end))
        ranges.append((s, e))
        if e == n:
            break
        reach = range(max(s + 1, e - stride), e)
        s = next((t for t in reach if after_space(t)), None) or next((t for t in reach if starts_word(t)), e)
    return windows, passages, ranges, n


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
        windows, passages, ranges, doc_tokens = [], [], [], []
        for n, (query, doc) in enumerate(r["items"]):
            if r.get("windows"):
                to_cp = {u: c for c, u in enumerate(utf16_index(doc))}
                windows.append([(to_cp[s], to_cp[e]) for s, e in r["windows"][n]])
                passages.append(windows[-1])
                ranges.append(None)
                doc_tokens.append(None)
                continue
            w, p, t, count = windows_of(tokenizer, query, doc, r["max_length"], r["window_tokens"], r.get("stride"))
            if r["mode"] == "first":
                w, p, t = w[:1], p[:1], (t[:1] if t else t)
            windows.append(w)
            passages.append(p)
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
        units = [utf16_index(doc) for _, doc in r["items"]]
        results.append({
            "windows": [[(u[s], u[e]) for s, e in ws] for u, ws in zip(units, windows)],
            "passages": [[(u[s], u[e]) for s, e in ps] for u, ps in zip(units, passages)],
            "token_ranges": ranges, "doc_tokens": doc_tokens, "scores": scores,
        })
    with open(args.out, "w") as f:
        json.dump({"results": results}, f)


if __name__ == "__main__":
    main()
