"""tokenizers' normalized text and per-character alignment for each case on stdin.

stdin: {"normalizers": [<tokenizer.json normalizer>, ...], "texts": [str, ...]}.
stdout: a JSON list with, for each normalizer and then each text, {"normalized": str,
"ranges": [[begin, end], ...]}: one range per character of the normalized text, in UTF-8 bytes
of the text (or {"error": str}).

tokenizers does not expose a NormalizedString's alignments, but an encoding shows them: with a
pre-tokenizer that isolates every normalized character and a WordLevel model that maps each to
[UNK], token i's offsets are the alignment of normalized character i.
"""
import json
import sys

from tokenizers import Tokenizer


def spec_for(normalizer):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": normalizer,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\s\\S]"}, "behavior": "Isolated", "invert": False},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"},
    }


def reference(tok, text):
    try:
        normalized = tok.normalizer.normalize_str(text)
        offsets = tok.encode(text, add_special_tokens=False).offsets
    except Exception as e:  # noqa: BLE001 - reported to the test as the case's outcome
        return {"error": str(e)}
    # Python reports offsets in characters of the text; the native side works in UTF-8 bytes.
    byte_at = [0]
    for ch in text:
        byte_at.append(byte_at[-1] + len(ch.encode("utf-8")))
    return {"normalized": normalized, "ranges": [[byte_at[b], byte_at[e]] for b, e in offsets]}


def main():
    request = json.load(sys.stdin)
    results = []
    for normalizer in request["normalizers"]:
        try:
            tok = Tokenizer.from_str(json.dumps(spec_for(normalizer)))
        except Exception as e:  # noqa: BLE001 - every text of this normalizer reports it
            results.extend({"error": str(e)} for _ in request["texts"])
            continue
        results.extend(reference(tok, text) for text in request["texts"])
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
