#!/usr/bin/env python3
"""bf16 variants of one BERT-base on the CPU, in one process, on the project's torch (.venv):
the exported TorchScript model.pt in fp32, under bf16 autocast with its Linear weights cast once
(what our precision 'bf16' runs), cast whole to bf16 (weights and activations, as
sentence-transformers' bf16), frozen and optimize_for_inference'd (oneDNN fusion) in fp32, and the
Hugging Face model in fp32 and bf16 (sentence-transformers' own forward). One padded batch of N
(BioASQ question, PubMed abstract) pairs; rounds interleaved; ratios are medians of the rounds'.

    .venv/bin/python scripts/bench/cpu-bf16-variants.py bench/models/biomedbert-st N ROUNDS
(bench/models/biomedbert-st: made by scripts/bench/st-model.py, e.g. by npm run bench:cpu.)
Prints each variant's largest logit difference from the HF fp32 model and the timings.
"""
import json, sys, time, statistics, itertools
import torch
from transformers import AutoTokenizer, AutoModelForSequenceClassification
torch.set_num_threads(2)
base = sys.argv[1]; n = int(sys.argv[2]); rounds = int(sys.argv[3])
qs = [json.loads(l)["query"] for l in open('/work/shared/data/bioasq_pairs.jsonl')][:200]
ab = [json.loads(l)["text"] for l in itertools.islice(open('/work/shared/data/pubmed_abstracts.jsonl'), 200)]
pairs = [(qs[i*7 % len(qs)], ab[i]) for i in range(n)]
tok = AutoTokenizer.from_pretrained(base + '/hf')
enc = tok([p[0] for p in pairs], [p[1] for p in pairs], padding=True, truncation=True, max_length=512, return_tensors='pt')
print('batch', enc['input_ids'].shape, file=sys.stderr)
args = (enc['input_ids'], enc['attention_mask'], enc['token_type_ids'])
ts = torch.jit.load(base + '/tce/model.pt').eval()
def run_ts(m):
    return lambda: m(*args)[0]
def linear_bf16(m):
    for name, sub in m.named_modules():
        if sub.original_name == 'Linear':
            for pn, p in sub.named_parameters(recurse=False):
                p.data = p.data.to(torch.bfloat16)
    return m
ts_ac = linear_bf16(torch.jit.load(base + '/tce/model.pt').eval())
def autocast_call():
    with torch.autocast('cpu', dtype=torch.bfloat16, cache_enabled=False):
        return ts_ac(*args)[0]
ts_full = torch.jit.load(base + '/tce/model.pt').eval().to(torch.bfloat16)
hf32 = AutoModelForSequenceClassification.from_pretrained(base + '/hf').eval()
hf16 = AutoModelForSequenceClassification.from_pretrained(base + '/hf', dtype=torch.bfloat16).eval()
frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(base + '/tce/model.pt').eval()))
variants = {
  'ts_fp32': run_ts(ts),
  'ts_autocast_bf16': autocast_call,
  'ts_full_bf16': run_ts(ts_full),
  'ts_frozen_opt_fp32': run_ts(frozen),
  'hf_fp32': lambda: hf32(**enc).logits,
  'hf_bf16': lambda: hf16(**enc).logits,
}
ref = None
out = {}
with torch.inference_mode():
    for k, f in list(variants.items()):
        try:
            y = f().float().reshape(-1)
            out[k] = y
        except Exception as e:
            print(k, 'FAILED', str(e)[:300], file=sys.stderr); variants.pop(k)
    ref = out['hf_fp32']
    for k in out: print(k, 'maxdiff vs hf fp32', float((out[k]-ref).abs().max()), file=sys.stderr)
    times = {k: [] for k in variants}
    for r in range(rounds):
        for k in variants:
            t = time.perf_counter(); variants[k](); times[k].append(time.perf_counter() - t)
        print('round', r, {k: round(v[-1], 3) for k, v in times.items()}, file=sys.stderr)
res = {k: {'median_s': statistics.median(v), 'ratio_vs_hf_fp32': statistics.median([a/b for a, b in zip(times['hf_fp32'], v)]), 'ratio_vs_hf_bf16': statistics.median([a/b for a, b in zip(times['hf_bf16'], v)])} for k, v in times.items()}
print(json.dumps(res))
