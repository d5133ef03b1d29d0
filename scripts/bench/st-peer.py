#!/usr/bin/env python3
"""The peer of the GPU benchmark: sentence_transformers.CrossEncoder.predict on the same pairs.

    python3 scripts/bench/st-peer.py --model HF_DIR --pairs PAIRS.jsonl
        [--dtype fp16|bf16|fp32] [--batch-sizes 32,64,...] [--rounds R] [--scores-out F --scores-count N]

PAIRS.jsonl holds one [query, document] array a line. Prints one JSON line: for each batch size,
the pairs/s of each round (the whole list per round, after one warm-up call). With --scores-out,
first writes the scores of the first N pairs (default batch size) there, for a parity check.
Run by scripts/bench/gpu.mjs, which alternates it with our own rounds.
"""
import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--dtype", default="fp16", choices=["fp16", "bf16", "fp32"])
    parser.add_argument("--batch-sizes", default="32")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--scores-out")
    parser.add_argument("--scores-count", type=int, default=1000)
    args = parser.parse_args()

    import sentence_transformers
    import torch
    from sentence_transformers import CrossEncoder

    with open(args.pairs) as f:
        pairs = [tuple(json.loads(line)) for line in f if line.strip()]

    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]
    # model_kwargs is how sentence-transformers documents loading in half precision.
    model = CrossEncoder(args.model, device=args.device, max_length=512, model_kwargs={"torch_dtype": dtype})
    if next(model.model.parameters()).dtype != dtype:
        # A sentence-transformers or transformers that ignored the keyword: cast the weights.
        model.model.to(dtype)
    loaded_dtype = str(next(model.model.parameters()).dtype)

    if args.scores_out:
        scores = model.predict(pairs[: args.scores_count], show_progress_bar=False, convert_to_numpy=True)
        with open(args.scores_out, "w") as f:
            json.dump([float(s) for s in scores.reshape(-1)], f)

    results = {}
    for batch_size in [int(b) for b in args.batch_sizes.split(",") if b]:
        model.predict(pairs[: batch_size * 2], batch_size=batch_size, show_progress_bar=False)
        rates = []
        for _ in range(args.rounds):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
            model.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
            rates.append(len(pairs) / (time.perf_counter() - started))
        results[str(batch_size)] = rates

    print(json.dumps({
        "sentenceTransformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "dtype": loaded_dtype,
        "pairs": len(pairs),
        "pairsPerSecond": results,
    }))


if __name__ == "__main__":
    main()
