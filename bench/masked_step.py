"""A masked fine-tune step over a dense one on MiniLM (batch 32, sequence 64); goal <= 1.05.

Both steps are forward + backward + gradient clipping + AdamW; the masked model carries
70%-sparse magnitude masks (weights zeroed, gradients masked by a post-accumulate hook).
"""

import copy

from pruning import apply_masks, masks_from_scores, score

from .common import bench_batch, bench_model, finetune_step, interleaved, report


def main(repeats: int = 7) -> None:
    batch = bench_batch(32, 64)
    dense = bench_model()
    masked = copy.deepcopy(dense)
    apply_masks(masked, masks_from_scores(score("magnitude", masked), 0.7))
    times = interleaved({"dense": finetune_step(dense, batch), "masked": finetune_step(masked, batch)}, repeats)
    report("masked_step", dense_s=round(times["dense"], 4), masked_s=round(times["masked"], 4),
           ratio=round(times["masked"] / times["dense"], 4), goals={"ratio": "<= 1.05"}, repeats=repeats)
