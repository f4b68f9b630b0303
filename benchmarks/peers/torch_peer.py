"""PyTorch's own data parallelism (gloo, CPU) on the same Llama shape, batch, threads and
steps as ddp_train / fsdp_llama: the peer their throughput and memory are compared against.

    torchrun --nproc_per_node 2 benchmarks/peers/torch_peer.py --strategy ddp --hidden 64 ...
    torchrun --nproc_per_node 2 benchmarks/peers/torch_peer.py --strategy fsdp2 ...

--strategy ddp: DistributedDataParallel, no communication on accumulation micro-steps.
--strategy fsdp2: fully_shard on every block and the root (reshard after forward, gradients
reduce-scattered every micro-step, as fsdp_llama does); --activation-checkpointing wraps
each block in torch.utils.checkpoint. Prints "tokens_per_s <median over steps after the
first>" and "peak_rss_bytes <largest over ranks>".
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, h, heads, kv, ffn):
        super().__init__()
        self.heads, self.kv, self.d = heads, kv, h // heads
        self.attn_norm, self.mlp_norm = nn.RMSNorm(h, eps=1e-5), nn.RMSNorm(h, eps=1e-5)
        self.q, self.k = nn.Linear(h, h, bias=False), nn.Linear(h, kv * self.d, bias=False)
        self.v, self.o = nn.Linear(h, kv * self.d, bias=False), nn.Linear(h, h, bias=False)
        self.gate, self.up = nn.Linear(h, ffn, bias=False), nn.Linear(h, ffn, bias=False)
        self.down = nn.Linear(ffn, h, bias=False)

    def forward(self, x, cos, sin):
        b, t, h = x.shape
        y = self.attn_norm(x)
        q = self.q(y).view(b, t, self.heads, self.d).transpose(1, 2)
        k = self.k(y).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v(y).view(b, t, self.kv, self.d).transpose(1, 2)
        rot = lambda z: torch.cat([-z[..., self.d // 2:], z[..., : self.d // 2]], -1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k = k.repeat_interleave(self.heads // self.kv, 1)
        v = v.repeat_interleave(self.heads // self.kv, 1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, h))
        y = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed = nn.Embedding(a.vocab, a.hidden)
        self.blocks = nn.ModuleList(Block(a.hidden, a.heads, a.kv_heads, a.ffn) for _ in range(a.layers))
        self.norm = nn.RMSNorm(a.hidden, eps=1e-5)
        self.head = nn.Linear(a.hidden, a.vocab, bias=False)
        if a.tied:  # Llama 3.2 1B/3B: the output head is the embedding
            self.head.weight = self.embed.weight
        d = a.hidden // a.heads
        inv = 1.0 / (a.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        ang = torch.outer(torch.arange(a.seq, dtype=torch.float64), inv)
        emb = torch.cat([ang, ang], -1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)

    def forward(self, ids):
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x, self.cos[: ids.shape[1]], self.sin[: ids.shape[1]])
        return self.head(self.norm(x))


def wrap(model, a, world):
    if a.strategy == "ddp":
        return nn.parallel.DistributedDataParallel(model)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (world,))
    if a.activation_checkpointing:
        from torch.utils.checkpoint import checkpoint

        for blk in model.blocks:
            blk.forward = (lambda f: lambda *x: checkpoint(f, *x, use_reentrant=False))(blk.forward)
    for blk in model.blocks:
        fully_shard(blk, mesh=mesh)
    return fully_shard(model, mesh=mesh)


def add_shape_args(p):
    """The model shape and run size flags, named as dtbench's; tiny Llama by default."""
    for name, default in [("hidden", 64), ("layers", 2), ("heads", 4), ("kv-heads", 2), ("ffn", 192), ("vocab", 256),
                          ("seq", 128), ("micro-batch", 1), ("global-batch", 8), ("steps", 20), ("threads", 1)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--tied", action="store_true", help="share the embedding with the output head")
    p.add_argument("--rope-theta", type=float, default=10000.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strategy", choices=["ddp", "fsdp2"], default="ddp")
    p.add_argument("--activation-checkpointing", action="store_true")
    add_shape_args(p)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    torch.manual_seed(0)
    model = wrap(Llama(a), a, world)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.2)
    accum = a.global_batch // (a.micro_batch * world)
    g = torch.Generator().manual_seed(rank)
    times = []
    for step in range(a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for k in range(accum):
            batch = torch.randint(0, a.vocab, (a.micro_batch, a.seq + 1), generator=g)
            ctx = model.no_sync() if a.strategy == "ddp" and k < accum - 1 else torch.enable_grad()
            with ctx:
                logits = model(batch[:, :-1])
                loss = F.cross_entropy(logits.reshape(-1, a.vocab).float(), batch[:, 1:].reshape(-1), reduction="sum")
                (loss / (a.micro_batch * accum * a.seq)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total = torch.tensor([loss.item()], dtype=torch.float64)
        dist.all_reduce(total)  # as ddp_train reduces its loss for the step line
        times.append(time.perf_counter() - t0)
    rss = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024], dtype=torch.float64)
    dist.all_reduce(rss, op=dist.ReduceOp.MAX)
    if rank == 0:
        print(f"tokens_per_s {a.global_batch * a.seq / statistics.median(times[1:] or times):.1f}")
        print(f"peak_rss_bytes {int(rss.item())}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
