"""What scripts/export.py needs beyond a Hugging Face classifier: a sentence-transformers save's
module chain (plan.py reads it and refuses what cannot be exported, before any weights load;
modules.py rebuilds the chain as one graph from token ids to scores) and the causal-LM head of
LogitScore rerankers (causal_lm.py). scripts/export_arch.py knows each architecture's inputs.
"""
