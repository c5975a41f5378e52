"""The expression loss's landmark reader, fitted once per run on the cache's own crops and landmarks.

Only the train split is seen (the held-out tail stays unseen, so the error
reported on it is honest), at the reader's resolution. The weights are saved
in the run folder, so a resumed run reads the same ones; they load as plain
tensors (`weights_only`), never as code.
"""

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fusion.data.pack import PackSpec, StagePack, build_pack
from fusion.data.triplets import to_float
from fusion.io.atomic import atomic_path
from fusion.model.landmark_net import LandmarkNet
from fusion.progress import progress

log = logging.getLogger(__name__)

#: The reader's file in the run folder, and the size it reads crops at.
LANDMARK_NET, RESOLUTION = "landmark_net.pt", 64


def fractions(pack: StagePack) -> torch.Tensor:
    """(N, 68, 2) the pack's landmarks as fractions of the crop's width (pixel centres at (p + 0.5) / R)."""
    return torch.from_numpy((pack.landmarks + 0.5) / pack.spec.resolution).float()


def fit_landmark_net(pack: StagePack, steps: int = 1500, batch_size: int = 64, lr: float = 1e-3,
                     seed: int = 0) -> LandmarkNet:
    """A `LandmarkNet` at the pack's resolution fitted to its crops' landmarks (smooth L1 on fractions, Adam with
    a cosine decay); the global random state is left as it was."""
    targets, generator = fractions(pack), torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = LandmarkNet(pack.spec.resolution)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in progress(range(steps), desc="expression loss: landmark reader", unit="step"):
        rows = np.sort(torch.randint(len(targets), (batch_size,), generator=generator).numpy())
        loss = F.smooth_l1_loss(net(to_float(pack.images[rows])), targets[rows], beta=0.01)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return net.eval().requires_grad_(False)


@torch.no_grad()
def landmark_error(net: LandmarkNet, pack: StagePack, batch_size: int = 256) -> float:
    """The mean landmark error of `net` on `pack`, over each crop's outer-eye-corner distance."""
    truth = fractions(pack)
    read = torch.cat([net(to_float(pack.images[start:start + batch_size]))
                      for start in range(0, len(truth), batch_size)])
    span = (truth[:, 45] - truth[:, 36]).norm(dim=-1)
    return float(((read - truth).norm(dim=-1).mean(1) / span).mean())


def landmark_net(cache: Path, identities: list[str], holdout: float, folder: Path, seed: int = 0,
                 steps: int = 1500) -> LandmarkNet:
    """The run's landmark reader: loaded from `folder` where a run made it, else fitted in `steps` on the train
    split of `cache` (its error on the held-out split logged) and saved there."""
    path = Path(folder) / LANDMARK_NET
    if path.is_file():
        net = LandmarkNet(RESOLUTION)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return net.eval().requires_grad_(False)
    train = build_pack(cache, identities, PackSpec(RESOLUTION, 10**6, seed, "train", holdout))
    net = fit_landmark_net(train, steps, seed=seed)
    held_out = build_pack(cache, identities, PackSpec(RESOLUTION, 10**6, seed, "val", holdout)) if holdout else None
    log.info("expression loss: landmark reader fitted on %d crops%s", len(train), "" if not held_out else
             f"; on {len(held_out)} held-out crops its error is {landmark_error(net, held_out):.3f} of the eyes' "
             "distance")
    with atomic_path(path) as staged:
        torch.save(net.state_dict(), staged)
    return net
