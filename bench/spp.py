"""SPP on MiniLM (batch 32, sequence 64, 2 threads):
- search step over a full fine-tune step (forward + backward + AdamW on all weights); goal <= 1.0.
  Also the search step as the authors' code runs it: weight gradients computed (and dropped).
- forward latency of the compressed model over the dense one at 50% structured sparsity (global
  read-off of a 20-step search on the same batch); goal: >= 1.85x faster. FLOPs and parameters too.
"""

import itertools

import torch

from pruning.compress import compress
from pruning.cost import flops_per_example, parameters
from pruning.structured import Entries, mask_gradient, masked, read_off, structured_blocks
from pruning.structured_methods.spp import SPPSettings, search, solution_path

from .common import bench_batch, bench_model, finetune_step, interleaved, report


def _search_step(model: torch.nn.Module, batch: dict, weight_gradients: bool):
    """One step of the search; `weight_gradients`: as the authors' code, via loss.backward()."""
    blocks = structured_blocks(model)
    entries = Entries(blocks)
    for param in model.parameters():
        param.requires_grad_(weight_gradients)
    if weight_gradients:
        def gradient(m: torch.Tensor) -> torch.Tensor:
            leaf = m.detach().requires_grad_(True)
            with masked(model, entries.split(leaf), blocks):
                model(**batch).loss.backward()
            model.zero_grad(set_to_none=True)
            return leaf.grad
    else:
        gradient = mask_gradient(model, blocks, entries, itertools.repeat(batch))
    settings = SPPSettings(steps=1, checkpoints=1)
    device = next(model.parameters()).device
    return lambda: search(gradient, entries.size, settings, device=device)


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    steps = {"finetune": finetune_step(bench_model().eval(), batch),
             "spp": _search_step(bench_model().eval(), batch, False),
             "spp_weight_grads": _search_step(bench_model().eval(), batch, True)}
    times = interleaved(steps, repeats)
    report("spp_search_step", finetune_s=round(times["finetune"], 4), spp_s=round(times["spp"], 4),
           ratio=round(times["spp"] / times["finetune"], 4),
           ratio_with_weight_grads=round(times["spp_weight_grads"] / times["finetune"], 4), goals={"ratio": "<= 1.0"},
           repeats=repeats)
    model = bench_model().eval()
    path = solution_path(model, itertools.repeat(batch), steps=20, checkpoints=1)
    small = compress(model, read_off(path, 0.5)).eval()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        forwards = interleaved({"dense": lambda: model(**inputs), "compressed": lambda: small(**inputs)}, repeats)
    report("spp_compressed_latency", dense_s=round(forwards["dense"], 4), compressed_s=round(forwards["compressed"], 4),
           speedup=round(forwards["dense"] / forwards["compressed"], 3), goals={"speedup": ">= 1.85"},
           flops_ratio=round(flops_per_example(lambda b: small(**b), inputs)
                             / flops_per_example(lambda b: model(**b), inputs), 3),
           params_ratio=round(parameters(small) / parameters(model), 3), repeats=repeats)
