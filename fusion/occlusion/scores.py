"""How well a matte network finds the visible face, on held-out crops.

Two questions, both as mean per-crop IoU (torchmetrics' Jaccard index):
- `occluded`: held-out crops with occluders from the *test* bank (textures
  never trained on) pasted at fixed seeds; truth is the hull without the
  occluder. The learned matte (cut by the hull, as the swap uses it) against
  the hull alone, which ignores occluders.
- `clean`: the same crops as filmed; the learned matte against the hull: a
  matte that excludes occluders should not also eat the face.
"""

import numpy as np
import torch
from torchmetrics.functional.classification import binary_jaccard_index

from fusion.data.pack import StagePack
from fusion.data.triplets import to_float
from fusion.model.matte_net import MatteNet
from fusion.occlusion.occluders import OccluderBank


def mean_iou(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean over crops of the IoU of two (B, H, W) boolean mattes.

    >>> a = torch.zeros(2, 4, 4, dtype=torch.bool); a[:, :2] = True
    >>> b = a.clone(); b[1] = True
    >>> mean_iou(a, b)  # crop 0 equal, crop 1 half
    0.75
    """
    return float(np.mean([binary_jaccard_index(p.int(), t.int()).item() for p, t in zip(predicted, truth)]))


def occluded_crops(pack: StagePack, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(crops (N, 3, R, R) with one test-bank occluder each, truth (N, R, R) bool, hull (N, R, R) bool),
    the same for the same pack and seed."""
    bank = OccluderBank("test")
    hull = torch.from_numpy(pack.masks[:] >= 128)
    clean = to_float(pack.images[:]).permute(0, 2, 3, 1).numpy()
    images, visible = [], []
    for row, crop in enumerate(clean):
        image, alpha = bank.paste(crop, np.random.default_rng([seed, row]))
        images.append(image)
        visible.append(alpha < 0.5)
    truth = hull & torch.from_numpy(np.stack(visible))
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), truth, hull


def learned_matte(net: MatteNet, crops: torch.Tensor, hull: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, R, R) bool: the hull where `net` says visible face (probability >= 0.5), as the swap cuts it."""
    device = next(net.parameters()).device
    probability = torch.cat([net.predict(crops[i:i + batch_size].to(device)).cpu()[:, 0]
                             for i in range(0, len(crops), batch_size)])
    return hull & (probability >= 0.5)


def matte_scores(net: MatteNet, pack: StagePack, seed: int = 0) -> dict[str, float]:
    """IoU of the learned matte and of the hull on occluded held-out crops, and learned vs hull on clean ones."""
    net.eval()
    crops, truth, hull = occluded_crops(pack, seed)
    clean = to_float(pack.images[:])
    return {"occluded_learned": mean_iou(learned_matte(net, crops, hull), truth),
            "occluded_hull": mean_iou(hull, truth),
            "clean_learned_vs_hull": mean_iou(learned_matte(net, clean, hull), hull),
            "crops": len(pack)}
