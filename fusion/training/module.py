"""The LightningModule: one training step on a batch of triplets.

prediction = blend(D_p(E(source)) into template), target = blend(source into
template), both with the source's mask and the same differentiable blend, so
the loss judges the face as it will be composited. The blend's `rule` is
"crop" (depth from the crop, no-leak erosion, `multiband_blend`'s defaults)
or "composite" (the swap's rule, `fusion.blend.face_composite`: depth from the
face's size, cut by the eroded, feathered matte).

The blend takes its coarse levels from the template, so a blended loss alone
never supervises the decoder's low frequencies and the color and shape
learned at low resolution drift once blending starts. A raw term, the
decoded face against the source inside the mask (`raw_weight`), keeps every
band supervised; below `blend_min_resolution` (64 px) there is nothing to
blend and the raw term is the whole loss. Why, and what it measured:
docs/design.md (Triplets, the training loss and the blend) and (Measurements).

With `expression_weight`, from `expression_min_resolution` each batch is also
decoded by another identity and that swap asked to keep the source's pose,
mouth and eyes (`fusion.training.expression_loss`, read by a landmark reader
fitted on the cache when the first fit starts: `fusion.training.landmark_fit`).

Which parameters train, at what learning rate and resolution, is set by the
curriculum callback before each fit; the optimizer is built fresh per fit.

`net_ema` is an exponential moving average of `net`'s weights (decay
`ema_decay`, ramped as (1 + n) / (10 + n) over the n steps of each phase, so
that a short phase or a just-grown level is not averaged with its random
initial weights). Validation, previews and the saved network a swap loads
are the average, the usual end point of progressive training (ProGAN keeps
one of its generator); docs/design.md (Network), "Weight average".
"""

import copy
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.optim.swa_utils import get_ema_multi_avg_fn
from torchmetrics import MeanMetric

from fusion.blend import multiband_blend
from fusion.blend.face_composite import composite_faces
from fusion.errors import check_choice
from fusion.metrics.reconstruction import masked_psnr, masked_ssim
from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.checkpoint import fusion_section, migrate
from fusion.model.decode import decode_faces
from fusion.training.expression_loss import ExpressionLoss
from fusion.training.landmark_fit import landmark_net
from fusion.training.losses import FaceLoss, LossWeights
from fusion.training.preview_grid import preview_grid, save_preview


#: How the blended term puts a face into its template (see the module docstring).
BLEND_RULES = ("crop", "composite")


class FusionModule(L.LightningModule):
    """Trains FusionNet on triplets: raw and (from `blend_min_resolution`) blended loss, the weight
    average `net_ema`, held-out validation and previews. The curriculum callback grows and freezes
    `net` and sets `phase` and `lr` before each fit (see the module docstring).
    """

    def __init__(self, identities: list[str], net: dict, loss: dict | None = None, blend: dict | None = None,
                 betas: tuple[float, float] = (0.9, 0.999), preview_count: int = 8, run_dir: str | None = None,
                 blend_min_resolution: int = 64, raw_weight: float = 1.0, ema_decay: float | None = 0.999,
                 expression_weight: float = 0.0, expression_min_resolution: int = 64):
        super().__init__()
        self.save_hyperparameters()
        self.identities = list(identities)
        self.net = FusionNet(FusionConfig(identities=len(self.identities), **net))
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1) or null (no average), got {ema_decay}")
        self.ema_decay = ema_decay
        self.net_ema = copy.deepcopy(self.net).requires_grad_(False) if ema_decay else None
        #: optimizer steps of the current phase that the average has taken in (restored on resume)
        self.register_buffer("ema_steps", torch.zeros((), dtype=torch.long))
        self._ema_count = 0
        self.loss = FaceLoss(LossWeights(**(loss or {})))
        self.blend_options = {"rule": "crop", "keep_coarse": 2, "match_contrast": True, **(blend or {})}
        check_choice("model.blend.rule", self.blend_options["rule"], BLEND_RULES)
        self.blend_min_resolution = blend_min_resolution
        self.raw_weight = raw_weight
        if expression_weight < 0:
            raise ValueError(f"model.expression_weight={expression_weight}: give 0 (off) or a positive weight")
        self.expression_weight, self.expression_min_resolution = expression_weight, expression_min_resolution
        #: the expression loss, made when the first fit starts (it reads the cache); None: off or not yet made
        self.expression: ExpressionLoss | None = None
        self.betas = tuple(betas)
        self.preview_count = preview_count
        self.run_dir = Path(run_dir) if run_dir else None
        #: the cache's crop layout (CropSettings as a dict), saved so a swap aligns faces alike
        self.crop: dict = {}
        self.lr = 1e-3
        self.phase = None
        self.val_ssim = nn.ModuleDict({name: MeanMetric() for name in self.identities})
        self.val_psnr = nn.ModuleDict({name: MeanMetric() for name in self.identities})

    def blend(self, face: torch.Tensor, template: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The training blend of `face` into `template` under `mask`: what the blended loss term compares."""
        if self.blend_options["rule"] == "composite":
            return composite_faces(face, template, mask, match_contrast=self.blend_options["match_contrast"])
        return multiband_blend(face, template, mask, keep_coarse=self.blend_options["keep_coarse"],
                               match_contrast=self.blend_options["match_contrast"])

    def forward(self, source: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Face crops at the output resolution -> the identity's decoded faces in [0, 1]."""
        return decode_faces(self.net, source, identity)

    @property
    def inference_net(self) -> FusionNet:
        """The network to judge and to ship: the average where there is one, at the training net's fade-in."""
        if self.net_ema is None:
            return self.net
        self.net_ema.alpha = self.net.alpha
        return self.net_ema

    def on_fit_start(self) -> None:
        """Copy the (restored) average's step count to the host: reading the buffer every step would sync a GPU.
        With an expression weight, make its loss once, from the datamodule's cache (`landmark_net`)."""
        self._ema_count = int(self.ema_steps)
        if self.expression_weight and self.expression is None:
            data = self.trainer.datamodule
            folder = self.run_dir if self.run_dir is not None else Path(self.trainer.default_root_dir)
            self.expression = ExpressionLoss(landmark_net(data.cache, data.identities, data.holdout, folder))

    def optimizer_step(self, *args, **kwargs) -> None:
        """The optimizer's step, then the average's: both before any callback's `on_train_batch_end`, so a
        checkpoint saved there (mid-phase, or on a preemption) holds the average of the step it follows."""
        super().optimizer_step(*args, **kwargs)
        self._update_average()

    @torch.no_grad()
    def _update_average(self) -> None:
        """Take this optimizer step into the weight average, its decay ramped over the phase's first
        steps so that a new level is not averaged with its random start.
        """
        if self.net_ema is None:
            return
        self.ema_steps += 1
        self._ema_count = steps = self._ema_count + 1
        decay = min(self.ema_decay, (1 + steps) / (10 + steps))
        get_ema_multi_avg_fn(decay)(list(self.net_ema.parameters()), list(self.net.parameters()), None)

    def _step(self, batch: dict) -> dict[str, torch.Tensor]:
        source, template, mask, identity = batch["source"], batch["template"], batch["mask"], batch["identity"]
        features = batch.get("features")
        face = self(source, identity)
        raw = self.loss(face, source, mask, features)
        if face.shape[-1] < self.blend_min_resolution:
            terms = dict(raw)
        else:
            prediction = self.blend(face, template, mask)
            target = self.blend(source, template, mask)
            blended = self.loss(prediction, target, mask, features)
            terms = {f"blend_{name}": value for name, value in blended.items()}
            terms.update({f"raw_{name}": value for name, value in raw.items()})
            terms["loss"] = blended["loss"] + self.raw_weight * raw["loss"]
        if self.expression is not None and face.shape[-1] >= self.expression_min_resolution:
            terms["expression"] = self.expression(self(source, self.other_identities(identity)), source)
            terms["loss"] = terms["loss"] + self.expression_weight * terms["expression"]
        return terms

    def other_identities(self, identity: torch.Tensor) -> torch.Tensor:
        """For each row, an identity drawn at random among the others: whose decoder the expression loss swaps it
        through."""
        shift = torch.randint(1, len(self.identities), identity.shape, device=identity.device)
        return (identity + shift) % len(self.identities)

    def training_step(self, batch: dict, batch_index: int) -> torch.Tensor:
        """The loss of one batch, logging each term and the curriculum's stage, resolution, phase and fade-in."""
        terms = self._step(batch)
        size = batch["source"].shape[0]
        for name, value in terms.items():
            self.log(f"train/{name}", value, prog_bar=name == "loss", batch_size=size)
        if self.phase is not None:
            self.log_dict({"curriculum/stage": float(self.phase.stage), "curriculum/resolution": float(self.phase.resolution),
                           "curriculum/phase": float(self.phase.index), "curriculum/alpha": self.net.alpha}, batch_size=size)
        return terms["loss"]

    def validation_step(self, batch: dict, batch_index: int) -> None:
        """Masked SSIM and PSNR per identity of the average's raw decode of held-out crops; the first
        batch also makes the preview grid.
        """
        source, mask, identity = batch["source"], batch["mask"], batch["identity"]
        face = decode_faces(self.inference_net, source, identity)
        # The raw decode, not its blend: blending into the source itself would
        # copy the source's coarse levels into the score.
        ssim, psnr = masked_ssim(face, source, mask), masked_psnr(face, source, mask)
        for number, name in enumerate(self.identities):
            rows = identity == number
            if rows.any():
                self.val_ssim[name].update(ssim[rows])
                self.val_psnr[name].update(psnr[rows])
        if batch_index == 0 and self.trainer.is_global_zero:
            self._preview(batch, face)

    def on_validation_epoch_end(self) -> None:
        """Log each identity's held-out SSIM and PSNR and their means, `val/ssim` (the guard's) and `val/psnr`."""
        ssims, psnrs = [], []
        for name in self.identities:
            for metrics, values, key in ((self.val_ssim, ssims, "ssim"), (self.val_psnr, psnrs, "psnr")):
                value = metrics[name].compute()
                metrics[name].reset()
                values.append(value)
                self.log(f"val/{key}/{name}", value)
        self.log("val/ssim", torch.stack(ssims).mean(), prog_bar=True)
        self.log("val/psnr", torch.stack(psnrs).mean())

    @torch.no_grad()
    def _preview(self, batch: dict, reconstruction: torch.Tensor) -> None:
        """Held-out triplets as training sees them (the next frame as template) and what the average makes
        of them: source, template, target (source blended into template), prediction (its decode blended
        into template), reconstruction (raw decode) and the swap to the next identity (blended into source)."""
        if self.run_dir is None:
            return
        source, mask, identity = batch["source"], batch["mask"], batch["identity"]
        template = source.roll(1, dims=0)
        swapped = decode_faces(self.inference_net, source, (identity + 1) % len(self.identities))
        rows = {"source": source, "template": template}
        if source.shape[-1] >= self.blend_min_resolution:
            rows.update(target=self.blend(source, template, mask), prediction=self.blend(reconstruction, template, mask))
            swapped = self.blend(swapped, source, mask)
        rows.update(reconstruction=reconstruction, swap=swapped)
        label = self.phase.label if self.phase else "val"
        caption = f"{label} ({source.shape[-1]} px), step {self.global_step}: held-out frames"
        save_preview(preview_grid(rows, self.preview_count), self.run_dir / "previews",
                     f"{label}-step{self.global_step:06d}", self.logger, self.global_step, caption)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """A fresh Adam over exactly the trainable parameters: one per fit, hence per phase, so the DDP
        wrapper and the optimizer always agree on what trains (docs/design.md (The DDP trap)).
        """
        trainable = [p for p in self.net.parameters() if p.requires_grad]
        # Multi-tensor updates instead of a loop over the parameters; not `fused`, with which Lightning
        # refuses to clip gradients under mixed precision.
        return torch.optim.Adam(trainable, lr=self.lr, betas=self.betas, foreach=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Add the `fusion` section (growth, phase, identities, net, crop) that resume, swap and evaluate rebuild from."""
        phase = self.phase.index if self.phase else None
        checkpoint["fusion"] = fusion_section(self.net, self.identities, phase, self.crop)

    def with_average(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A checkpoint's state dict fitted to this module's averaging: a checkpoint written
        before the average existed starts it from its weights; one with an average loaded
        into a module without one drops it."""
        state = {k: v for k, v in state.items() if self.net_ema is not None or not k.startswith("net_ema.")}
        if self.net_ema is not None and not any(k.startswith("net_ema.") for k in state):
            state.update({"net_ema." + k[len("net."):]: v for k, v in state.items() if k.startswith("net.")})
        state.setdefault("ema_steps", torch.zeros((), dtype=torch.long))
        return state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Fit the state dict to this module's weight average; refuse a checkpoint fusion did not write
        or one whose growth differs from the network's.
        """
        checkpoint["state_dict"] = self.with_average(checkpoint["state_dict"])
        if checkpoint.get("fusion") is None:
            raise ValueError("this checkpoint was not written by fusion (no 'fusion' section)")
        saved = migrate(checkpoint)["fusion"]
        if saved["growth"] != list(self.net.growth):
            raise ValueError(f"checkpoint network growth {saved['growth']} differs from the model's {self.net.growth}: "
                             "grow the model to the checkpoint's depth before loading")

