"""A plain PyTorch eager training loop on one device: the peer that fsdp_llama at world size 1
is compared against (scripts/gpu_check.sh).

    python3 benchmarks/peers/torch_eager_peer.py --device cuda --hidden 2048 --layers 16 --heads 32 \\
        --kv-heads 8 --ffn 8192 --vocab 128256 --tied --rope-theta 500000 --seq 2048 \\
        --micro-batch 4 --global-batch 8 --steps 10 --out peer.json

The model is torch_peer.Llama (RMSNorm, RoPE, grouped-query attention through causal SDPA,
SwiGLU), the same shape and parameter count as dtbench's (Llama 3.1's RoPE rescaling changes
the tables' values, not the work, and is left out). Mixed precision as fsdp_llama --dtype bf16
does it: the forward and backward run on a bf16 copy of the parameters; gradients are applied
in fp32 to fp32 master weights by AdamW (fused on CUDA; decay on matrices only), after
clipping at norm 1; the bf16 copy is refreshed from the masters after each step. The loss is
the token-weighted mean, cross-entropy on fp32 logits. Synthetic tokens. No torch.compile, no
CUDA graphs: eager, as most training scripts run.

Timed as dtbench times: a step ends when its loss is back on the host (which waits for the
device); the first step warms up and is not counted; tokens/s = global batch x seq / the
median step. Prints, and writes to --out, one JSON object.
"""
import argparse
import copy
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from torch_peer import Llama, add_shape_args


def build(a, device):
    """fp32 masters and their bf16 compute copy (the same object in fp32)."""
    with torch.device(device):
        master = Llama(a)
    with torch.no_grad():  # dtbench's initial scale: normal(0, 0.02) matrices, unit norm weights
        for p in master.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.02)
    if a.dtype == "fp32":
        return master, master
    return master, copy.deepcopy(master).to(torch.bfloat16)  # the RoPE tables too, as dtbench casts them


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_shape_args(p)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="bf16")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", help="also write the JSON object to this file")
    a = p.parse_args()
    if a.global_batch % a.micro_batch:
        p.error(f"--global-batch {a.global_batch} is not a multiple of --micro-batch {a.micro_batch}")
    cuda = a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda: torch sees no CUDA device")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    master, model = build(a, a.device)
    masters, params = list(master.parameters()), list(model.parameters())
    decay = [m for m in masters if m.dim() >= 2]
    rest = [m for m in masters if m.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), fused=cuda)
    accum = a.global_batch // a.micro_batch
    tokens = a.global_batch * a.seq
    g = torch.Generator(device=a.device).manual_seed(a.seed)
    times, losses = [], []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        for q in params:
            q.grad = None
        total = torch.zeros((), device=a.device, dtype=torch.float64)
        for _ in range(accum):
            batch = torch.randint(0, a.vocab, (a.micro_batch, a.seq + 1), device=a.device, generator=g)
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, a.vocab).float(), batch[:, 1:].reshape(-1), reduction="sum")
            (loss / tokens).backward()
            total += loss.detach()
        if model is not master:
            for m, q in zip(masters, params):
                if m.grad is None:
                    m.grad = torch.empty_like(m)
            torch._foreach_copy_([m.grad for m in masters], [q.grad for q in params])
        torch.nn.utils.clip_grad_norm_(masters, 1.0, foreach=True)
        opt.step()
        if model is not master:
            with torch.no_grad():
                torch._foreach_copy_(params, masters)
        losses.append(total.item() / tokens)  # waits for the device
        times.append(time.perf_counter() - t0)
    step = statistics.median(times[1:] or times)
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {"peer": "torch_eager", "torch": torch.__version__, "device": a.device, "dtype": a.dtype,
           "parameters": sum(m.numel() for m in masters), "global_batch": a.global_batch, "seq": a.seq,
           "steps": a.steps, "step_time_s": step, "tokens_per_s": tokens / step, "peak_mem_bytes": int(peak),
           "loss_first": losses[0], "loss_last": losses[-1]}
    print(json.dumps(out))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
