#!/usr/bin/env python3
"""RoPE inverse frequencies of the Llama-family registry models, computed by Hugging Face
transformers (pinned by scripts/setup.sh) from each model's *published* config.json values,
written down here independently of core/model/registry.cpp.

  hf_rope_reference.py OUT.json    -> {"model": [inv_freq...], ...}

model_tests' "[.hf_reference]" case compares dtbench's rope_inv_freq against it; a factor,
theta or frequency band that differs from the release shows there (Llama 3.2 once carried 3.1's
factor 8 instead of 32).
"""
import json
import sys

from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

LLAMA3_1 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}
LLAMA3_2 = dict(LLAMA3_1, factor=32.0)
# name: (hidden_size, num_attention_heads, rope_theta, rope_scaling), from each release's config.json
PUBLISHED = {
    "llama2_7b": (4096, 32, 10000.0, None),        # meta-llama/Llama-2-7b-hf
    "llama2_13b": (5120, 40, 10000.0, None),       # meta-llama/Llama-2-13b-hf
    "llama2_70b": (8192, 64, 10000.0, None),       # meta-llama/Llama-2-70b-hf
    "llama3_1_8b": (4096, 32, 500000.0, LLAMA3_1),   # meta-llama/Llama-3.1-8B
    "llama3_1_70b": (8192, 64, 500000.0, LLAMA3_1),  # meta-llama/Llama-3.1-70B
    "llama3_2_1b": (2048, 32, 500000.0, LLAMA3_2),   # meta-llama/Llama-3.2-1B
    "llama3_2_3b": (3072, 24, 500000.0, LLAMA3_2),   # meta-llama/Llama-3.2-3B
    "mathstral_7b": (4096, 32, 1000000.0, None),   # mistralai/Mathstral-7B-v0.1
}


def main():
    out = {}
    for name, (hidden, heads, theta, scaling) in PUBLISHED.items():
        cfg = LlamaConfig(hidden_size=hidden, num_attention_heads=heads, rope_theta=theta, rope_scaling=scaling,
                          max_position_embeddings=131072 if scaling else 32768)
        inv_freq, _ = ROPE_INIT_FUNCTIONS[scaling["rope_type"] if scaling else "default"](cfg, "cpu")
        out[name] = [float(x) for x in inv_freq]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
    print(f"{len(out)} models from transformers' RoPE initialisation")


if __name__ == "__main__":
    main()
