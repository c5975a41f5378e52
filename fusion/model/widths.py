"""Channel widths per level, as in ProGAN and the paper's reimplementations.

Level k works at 4 * 2**k px. The width is ``base / resolution`` capped at
``maximum``: 512 up to 32 px, then halving per level (256 at 64 px ... 16 at
1024 px), so every level costs about the same per image. ``multiplier``
scales all widths at once, for small CPU demos.
"""


def level_resolution(level: int) -> int:
    """Side length in px of the feature maps at ``level``.

    >>> [level_resolution(k) for k in range(4)]
    [4, 8, 16, 32]
    """
    if level < 0:
        raise ValueError(f"level must be >= 0, got {level}")
    return 4 * 2**level


def resolution_level(resolution: int) -> int:
    """Inverse of :func:`level_resolution`; rejects sizes that are no level.

    >>> resolution_level(256)
    6
    >>> resolution_level(48)
    Traceback (most recent call last):
    ...
    ValueError: resolution must be 4 * 2**k px (4, 8, 16, ...), got 48
    """
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be 4 * 2**k px (4, 8, 16, ...), got {resolution}")
    return resolution.bit_length() - 3


def level_width(level: int, *, maximum: int = 512, base: int = 16384, multiplier: float = 1.0) -> int:
    """Number of channels at ``level`` (at least 1).

    >>> [level_width(k) for k in range(9)]
    [512, 512, 512, 512, 256, 128, 64, 32, 16]
    >>> [level_width(k, multiplier=0.125) for k in range(9)]
    [64, 64, 64, 64, 32, 16, 8, 4, 2]
    """
    if multiplier <= 0:
        raise ValueError(f"width multiplier must be > 0, got {multiplier}")
    return max(1, round(multiplier * min(maximum, base / level_resolution(level))))
