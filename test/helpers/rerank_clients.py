"""Calls a running rerank server with the clients users have, and prints what each returned as
one JSON object (test/server-clients.test.ts compares it with a direct predict):

  huggingface_hub.InferenceClient  get_endpoint_info() (GET /info) and health_check() (GET /health)
  cohere.Client                    rerank() -> POST /v1/rerank
  cohere.ClientV2                  rerank() -> POST /v2/rerank, and with max_tokens_per_doc when the
                                   request says (its value)

Usage: rerank_clients.py URL API_KEY  (the query and documents as JSON on stdin)
"""
import json
import sys

import cohere
from huggingface_hub import InferenceClient


def main() -> None:
    url, api_key = sys.argv[1], sys.argv[2]
    request = json.load(sys.stdin)
    query, documents = request["query"], request["documents"]
    out = {}

    hf = InferenceClient(model=url, token=api_key, provider="hf-inference")
    out["hf_info"] = hf.get_endpoint_info()
    out["hf_health"] = hf.health_check()
    # Without the key: the probe stays open, /info does not.
    out["hf_health_no_key"] = InferenceClient(model=url, provider="hf-inference").health_check()
    try:
        InferenceClient(model=url, provider="hf-inference").get_endpoint_info()
        out["hf_info_no_key"] = "answered"
    except Exception as error:  # huggingface_hub raises its HTTP error with the status
        out["hf_info_no_key"] = getattr(getattr(error, "response", None), "status_code", repr(error))

    v1 = cohere.Client(api_key=api_key, base_url=url)
    response = v1.rerank(model="tiny", query=query, documents=documents, top_n=3, return_documents=True)
    out["cohere_v1"] = [
        {"index": r.index, "relevance_score": r.relevance_score, "text": r.document.text if r.document else None}
        for r in response.results
    ]
    out["cohere_v1_meta"] = response.meta.billed_units.search_units if response.meta and response.meta.billed_units else None

    v2 = cohere.ClientV2(api_key=api_key, base_url=url)
    response = v2.rerank(model="tiny", query=query, documents=documents)
    out["cohere_v2"] = [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]
    if "max_tokens_per_doc" in request:
        response = v2.rerank(model="tiny", query=query, documents=documents, max_tokens_per_doc=request["max_tokens_per_doc"])
        out["cohere_v2_max_tokens"] = [{"index": r.index, "relevance_score": r.relevance_score} for r in response.results]

    try:
        cohere.Client(api_key="wrong", base_url=url).rerank(model="tiny", query=query, documents=documents)
        out["cohere_wrong_key"] = "answered"
    except cohere.core.api_error.ApiError as error:
        out["cohere_wrong_key"] = error.status_code

    print(json.dumps(out))


if __name__ == "__main__":
    main()
