"""Take an unstructured pruned run away: its masks as safetensors (parameter name -> bool), the
same masks in torch.nn.utils.prune's layout (`<module>.weight_orig` and `<module>.weight_mask`,
what a model pruned with prune.custom_from_mask holds in its state_dict), and the dense model it
was pruned from with the masks applied, as save_pretrained writes it. A pruned run keeps no
weights of its own, so that model is the one before recovery fine-tuning; SparseGPT, which also
rewrites the weights it keeps, is refused."""

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from analysis.store import read_run

from .config import ConfigError, config_from_dict
from .masks import apply_masks, remove_masks
from .models import load_model, load_run_weights


def export_pruned(run_path: str | Path, out: str | Path) -> Path:
    """Write `out`/masks.safetensors, `out`/torch_prune.safetensors and `out`/masked (save_pretrained)."""
    run = read_run(Path(run_path))
    manifest = run.manifest
    pruned = manifest.get("base_run") and (run.path / "masks.safetensors").exists()
    if run.status != "done" or run.is_path or not pruned:
        raise ConfigError(f"run: {run.run_id} is not a finished pruned run (method {run.method}, status {run.status}); "
                          "export takes a pruned run, or a structured one with --sparsity")
    if manifest.get("rewrites_weights"):
        raise ConfigError(f"run: {run.method} rewrites the weights it keeps, which its run does not store; "
                          "only its masks can be taken: masks.safetensors in the run folder")
    config = config_from_dict(manifest["config"])
    model = load_model(config.model.name, len(manifest["data"]["label_names"]), config.seed, config.model.pooler)
    try:
        load_run_weights(model, run.path.parent / manifest["base_run"])
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"run: {error}") from None
    masks = {name: mask.bool() for name, mask in load_file(str(run.path / "masks.safetensors")).items()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({name: mask.contiguous() for name, mask in masks.items()}, str(out / "masks.safetensors"))
    params = dict(model.named_parameters())
    layout = {}
    for name, mask in masks.items():
        module, _, attribute = name.rpartition(".")
        layout[f"{module}.{attribute}_orig"] = params[name].detach().clone()
        layout[f"{module}.{attribute}_mask"] = mask.to(params[name].dtype)
    save_file(layout, str(out / "torch_prune.safetensors"))
    apply_masks(model, masks)
    remove_masks(model)
    with torch.no_grad():
        model.eval().save_pretrained(out / "masked")
    return out
