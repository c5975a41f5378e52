"""FusionNet: a shared encoder and one decoder per identity, grown level by level.

Decoder levels below ``shared_decoder_levels`` are shared by all identities,
later levels are one per identity (the paper's figure). The output level and
its toRGB are always one per identity: a shared one would decode every
identity to the same face.

Growth is replayable: ``growth`` lists the kind of every ``grow()`` call
(``"full"``: a new input and output level; ``"decoder_only"``: a new output
level only, so the output doubles the input), and every new level draws its weights from a generator seeded
by (``config.seed``, depth), so ``FusionNet.build(config, growth)`` recreates
the same architecture (to load a checkpoint) and the same initial weights (on
every DDP rank, without communication).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fusion.checks import check_shape
from fusion.errors import check_choice
from fusion.model.levels import (
    DOWNSAMPLES,
    DecoderBottom,
    DecoderLevel,
    EncoderBottom,
    EncoderLevel,
    FromRGB,
    ToRGB,
    upsample2x,
    upsample_mode,
)
from fusion.model.widths import level_resolution, level_width, resolution_level

#: What a ``grow()`` adds: a level at both ends ("full"), or an output level only ("decoder_only").
GROWTH_KINDS = ("full", "decoder_only")

_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


@dataclass(frozen=True)
class FusionConfig:
    """Everything that fixes FusionNet's architecture and initial weights.

    ``resolution`` is the initial network's input and output size. Widths
    follow :func:`fusion.model.widths.level_width` with ``max_width``,
    ``width_base`` and ``width_multiplier``; the latent has
    ``latent_channels`` channels (default: the bottom level's width).
    """

    identities: int
    resolution: int = 16
    latent_channels: int | None = None
    max_width: int = 512
    width_base: int = 16384
    width_multiplier: float = 1.0
    shared_decoder_levels: int = 2
    downsample: str = "avg"
    upsample: str = "nearest"
    seed: int = 0

    def __post_init__(self):
        if self.identities < 1:
            raise ValueError(f"identities must be >= 1, got {self.identities}")
        level = resolution_level(self.resolution)
        if not 0 <= self.shared_decoder_levels <= level:
            raise ValueError(
                f"shared_decoder_levels must be in [0, {level}] at resolution {self.resolution}, "
                f"got {self.shared_decoder_levels}: the output level must be one per identity, "
                "else every identity decodes to the same face"
            )
        check_choice("downsample", self.downsample, DOWNSAMPLES)
        upsample_mode(self.upsample)
        if self.width_multiplier <= 0:
            raise ValueError(f"width multiplier must be > 0, got {self.width_multiplier}")
        if self.latent_channels is not None and self.latent_channels < 1:
            raise ValueError(f"latent_channels must be >= 1, got {self.latent_channels}")
        if not 0 <= self.seed < 2**47:
            raise ValueError(f"seed must be in [0, 2**47), got {self.seed}")

    def width(self, level: int) -> int:
        """Channels at ``level``."""
        return level_width(level, maximum=self.max_width, base=self.width_base, multiplier=self.width_multiplier)

    @property
    def latent(self) -> int:
        """Channels of the 1x1 latent."""
        return self.latent_channels or self.width(0)


class IdentityDecoder(nn.Module):
    """The per-identity part of one decoder: its levels and the toRGB of its output level.

    ``to_rgb`` holds the output level's toRGB and, for fade-in, the previous one.
    """

    def __init__(self):
        super().__init__()
        self.levels = nn.ModuleList()
        self.to_rgb = nn.ModuleDict()

    def add_level(self, level: nn.Module, to_rgb: ToRGB, output_level: int) -> None:
        """Append the new output level and its toRGB; keep only the previous toRGB (for the fade-in)."""
        self.levels.append(level)
        self.to_rgb[str(output_level)] = to_rgb
        for key in [k for k in self.to_rgb if int(k) < output_level - 1]:
            del self.to_rgb[key]

    def forward(self, h: torch.Tensor, output_level: int, alpha: float, upsample: str) -> torch.Tensor:
        """Shared features -> image; below alpha 1 the previous level's image, upsampled, fades into the new one."""
        for level in self.levels[:-1]:
            h = level(h)
        rgb = self.to_rgb[str(output_level)](self.levels[-1](h))
        if alpha < 1:
            old = upsample2x(self.to_rgb[str(output_level - 1)](h), upsample)
            rgb = torch.lerp(old, rgb, alpha)
        return rgb


class FusionNet(nn.Module):
    """Shared encoder, per-identity decoders; ``forward(x, identity)``.

    ``x`` is (B, 3, input_resolution, input_resolution), ``identity`` a
    LongTensor[B] saying whose decoder renders each row. A batch may mix
    identities; each present identity's decoder runs once on its own rows,
    so absent identities get no gradient.

    >>> net = FusionNet(FusionConfig(identities=2, resolution=16, width_multiplier=1 / 32))
    >>> net(torch.zeros(3, 3, 16, 16), torch.tensor([1, 0, 1])).shape
    torch.Size([3, 3, 16, 16])
    >>> net.grow(); net.grow("decoder_only")
    >>> net.depth, net.growth, net.input_resolution, net.output_resolution
    (2, ['full', 'decoder_only'], 32, 64)
    >>> FusionNet.build(net.config, net.growth).load_state_dict(net.state_dict())
    <All keys matched successfully>
    """

    def __init__(self, config: FusionConfig):
        super().__init__()
        self.config = config
        self.growth: list[str] = []
        self._alpha = 1.0
        level = resolution_level(config.resolution)
        self.input_level = self.output_level = level
        g = self._generator()
        width, shared = config.width, config.shared_decoder_levels
        self.encoder = nn.ModuleList([EncoderBottom(width(0), config.latent, g)])
        self.encoder.extend(EncoderLevel(width(k), width(k - 1), config.downsample, g, level_resolution(k))
                            for k in range(1, level + 1))
        self.from_rgb = nn.ModuleDict({str(level): FromRGB(width(level), g)})
        self.shared = nn.ModuleList(self._decoder_level(k, g) for k in range(shared))
        self.decoders = nn.ModuleList(IdentityDecoder() for _ in range(config.identities))
        for decoder in self.decoders:
            for k in range(shared, level):
                decoder.levels.append(self._decoder_level(k, g))
            decoder.add_level(self._decoder_level(level, g), ToRGB(width(level), g), level)

    def extra_repr(self) -> str:
        """Identities, resolutions and growth, so that printing the network tells its stage."""
        return (f"{len(self.decoders)} identities, {self.input_resolution} -> {self.output_resolution} px, "
                f"growth {self.growth}, alpha {self._alpha:g}")

    @classmethod
    def build(cls, config: FusionConfig, growth: list[str] | tuple[str, ...] = ()) -> "FusionNet":
        """The network after ``grow(kind)`` for each kind in ``growth``; load weights next."""
        net = cls(config)
        for kind in growth:
            net.grow(kind)
        return net

    @property
    def depth(self) -> int:
        """Number of ``grow()`` calls so far."""
        return len(self.growth)

    @property
    def input_resolution(self) -> int:
        """Side of the images the encoder takes."""
        return level_resolution(self.input_level)

    @property
    def output_resolution(self) -> int:
        """Side of the images the decoders render (twice the input after a decoder-only growth)."""
        return level_resolution(self.output_level)

    @property
    def alpha(self) -> float:
        """Fade-in of the newest level: 0 = old path only, 1 = new level fully on (default)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {value}")
        if value < 1 and not self.growth:
            raise ValueError("alpha < 1 needs a grown network: there is no older level to fade from")
        self._alpha = value

    def _generator(self) -> torch.Generator:
        # One stream per (seed, depth): a rank's history of global RNG use cannot matter.
        return torch.Generator().manual_seed((self.config.seed << 16) + self.depth)

    def _decoder_level(self, level: int, g: torch.Generator) -> nn.Module:
        width = self.config.width
        if level == 0:
            return DecoderBottom(self.config.latent, width(0), g)
        return DecoderLevel(width(level - 1), width(level), self.config.upsample, g, level_resolution(level))

    def grow(self, kind: str = "full") -> None:
        """Add a resolution-update level: a new output level in every decoder and,
        for a ``"full"`` growth (not ``"decoder_only"``), a new encoder input level. Resets ``alpha`` to 1.

        New parameters follow the device, dtype and memory format (channels_last
        or not) of the existing ones.
        """
        check_choice("growth kind", kind, GROWTH_KINDS)
        decoder_only = kind == "decoder_only"
        self.growth.append(kind)
        g = self._generator()
        new: list[nn.Module] = []
        width = self.config.width
        if not decoder_only:
            k = self.input_level = self.input_level + 1
            new.append(EncoderLevel(width(k), width(k - 1), self.config.downsample, g, level_resolution(k)))
            self.encoder.append(new[-1])
            new.append(FromRGB(width(k), g))
            self.from_rgb[str(k)] = new[-1]
            for key in [key for key in self.from_rgb if int(key) < k - 1]:
                del self.from_rgb[key]
        k = self.output_level = self.output_level + 1
        for decoder in self.decoders:
            new += [self._decoder_level(k, g), ToRGB(width(k), g)]
            decoder.add_level(new[-2], new[-1], k)
        reference = self.encoder[0].conv.weight
        channels_last = reference.is_contiguous(memory_format=torch.channels_last) and not reference.is_contiguous()
        for module in new:
            module.to(reference.device, reference.dtype)
            if channels_last:
                module.to(memory_format=torch.channels_last)
        self._alpha = 1.0

    def _newest_modules(self) -> list[nn.Module]:
        if not self.growth:
            return [self]
        k = self.output_level
        modules = [m for d in self.decoders for m in (d.levels[-1], d.to_rgb[str(k)])]
        if self.growth[-1] == "full":
            modules += [self.encoder[-1], self.from_rgb[str(self.input_level)]]
        return modules

    def newest_parameters(self) -> list[nn.Parameter]:
        """Parameters added by the latest ``grow()`` (all of them before any growth): phase A trains only these."""
        return [p for m in self._newest_modules() for p in m.parameters()]

    def older_parameters(self) -> list[nn.Parameter]:
        """Every parameter not in :meth:`newest_parameters`: frozen in phase A."""
        newest = {id(p) for p in self.newest_parameters()}
        return [p for p in self.parameters() if id(p) not in newest]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Image batch -> latent (B, latent, 1, 1)."""
        r = self.input_resolution
        check_shape(x, f"B 3 {r} {r}", "images")
        k = self.input_level
        h = self.encoder[k](self.from_rgb[str(k)](x))
        if self._alpha < 1 and self.growth[-1] == "full":
            h = torch.lerp(self.from_rgb[str(k - 1)](F.avg_pool2d(x, 2)), h, self._alpha)
        for level in reversed(self.encoder[:k]):
            h = level(h)
        return h

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, input, input) -> each row decoded by its identity's decoder (B, 3, output, output)."""
        if x.shape[0] == 0:
            raise ValueError("empty batch")
        if identity.ndim != 1 or identity.shape[0] != x.shape[0] or identity.dtype not in _INDEX_DTYPES:
            raise ValueError(
                f"identity must be an integer tensor of shape ({x.shape[0]},) (one per image), "
                f"got {identity.dtype} of shape {tuple(identity.shape)}"
            )
        h = self.encode(x)
        for level in self.shared:
            h = level(h)
        return self._route(h, identity)

    def _decode(self, identity: int, h: torch.Tensor) -> torch.Tensor:
        return self.decoders[identity](h, self.output_level, self._alpha, self.config.upsample)

    def _route(self, h: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Run each present identity's decoder once on its rows; no copies if rows are grouped by identity."""
        is_sorted = bool((identity[1:] >= identity[:-1]).all())
        order = None if is_sorted else torch.argsort(identity, stable=True)
        ids, counts = torch.unique_consecutive(identity if is_sorted else identity[order], return_counts=True)
        ids, counts = ids.tolist(), counts.tolist()
        if ids[0] < 0 or ids[-1] >= len(self.decoders):
            bad = ids[0] if ids[0] < 0 else ids[-1]
            raise ValueError(f"identity index {bad} out of range: the network has {len(self.decoders)} identities")
        if len(ids) == 1:
            return self._decode(ids[0], h)
        if order is not None:
            h = h.index_select(0, order.to(h.device))
        rgb = torch.cat([self._decode(p, rows) for p, rows in zip(ids, h.split(counts))])
        if order is None:
            return rgb
        return torch.empty_like(rgb).index_copy_(0, order.to(rgb.device), rgb)
