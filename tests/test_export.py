"""`python -m pruning export` of an unstructured pruned run: its masks, the same masks in
torch.nn.utils.prune's layout, and the masked model, all loadable by their own libraries."""

import torch
import transformers
from safetensors.torch import load_file
from torch.nn.utils import prune

from analysis.store import list_runs
from pruning.cli import main
from pruning.config import config_from_dict
from pruning.models import load_model, load_run_weights
from tests.conftest import tiny_inputs


def test_export_writes_masks_the_torch_prune_layout_and_the_masked_model(smoke_runs, tmp_path, capsys):
    run = next(r for r in list_runs(smoke_runs) if r.method == "magnitude" and r.manifest["sparsity"] == 0.5)
    out = tmp_path / "out"
    assert main(["export", run.run_id, "--out", str(out), "--runs", str(smoke_runs)]) == 0
    masks = load_file(str(out / "masks.safetensors"))
    kept = sum(int(m.sum()) for m in masks.values())
    assert kept == run.manifest["results"]["kept_weights"]

    config = config_from_dict(run.manifest["config"])
    model = load_model(config.model.name, 2, config.seed, config.model.pooler)
    load_run_weights(model, smoke_runs / run.manifest["base_run"])
    for name in masks:  # what a user of torch.nn.utils.prune does to load the layout
        prune.identity(model.get_submodule(name.rpartition(".")[0]), "weight")
    missing, unexpected = model.load_state_dict(load_file(str(out / "torch_prune.safetensors")), strict=False)
    assert not unexpected and not [k for k in missing if k.endswith(("_orig", "_mask"))]
    for name, mask in masks.items():
        assert torch.equal(model.get_submodule(name.rpartition(".")[0]).weight_mask.bool(), mask)

    masked = transformers.AutoModelForSequenceClassification.from_pretrained(out / "masked").eval()
    batch = {k: v for k, v in tiny_inputs("tiny-bert").items() if k != "labels"}
    with torch.no_grad():
        torch.testing.assert_close(masked(**batch).logits, model.eval()(**batch).logits)  # prune's hooks mask
    assert "torch_prune.safetensors" in capsys.readouterr().out


def test_export_of_a_structured_run_needs_a_sparsity(smoke_runs, tmp_path, capsys):
    run = next(r for r in list_runs(smoke_runs) if r.is_path)
    assert main(["export", run.run_id, "--out", str(tmp_path / "x"), "--runs", str(smoke_runs)]) == 2
    assert "--sparsity: " in capsys.readouterr().err and not (tmp_path / "x").exists()
