"""Shape checks with messages that say what was expected (in the manner of kornia's KORNIA_CHECK_SHAPE)."""

import torch


def check_shape(tensor: torch.Tensor, shape: str, name: str = "input", sizes: dict[str, int] | None = None) -> dict:
    """Raise ValueError unless `tensor` has the dims `shape` names, e.g. "B 3 H W".

    A number is an exact size, `*` any size, a letter any size but the same
    wherever the letter recurs (here and in `sizes`, which the call returns
    extended, so several tensors can be checked against each other).

    >>> sizes = check_shape(torch.zeros(2, 3, 8, 8), "B 3 H H")
    >>> sizes
    {'B': 2, 'H': 8}
    >>> check_shape(torch.zeros(2, 1, 8, 8), "B 1 H W", "mask", sizes)
    {'B': 2, 'H': 8, 'W': 8}
    >>> check_shape(torch.zeros(2, 3, 8, 4), "B 3 H H", "face")
    Traceback (most recent call last):
    ...
    ValueError: face must have shape (B, 3, H, H), got (2, 3, 8, 4) (H is 8 and 4)
    """
    dims = shape.split()
    sizes = dict(sizes or {})
    expected = f"({', '.join(dims)})"
    if tensor.ndim != len(dims):
        raise ValueError(f"{name} must have shape {expected}, got {tuple(tensor.shape)}")
    for dim, size in zip(dims, tensor.shape):
        if dim.isdigit() and size != int(dim):
            raise ValueError(f"{name} must have shape {expected}, got {tuple(tensor.shape)}")
        if dim.isalpha():
            if sizes.setdefault(dim, size) != size:
                raise ValueError(f"{name} must have shape {expected}, got {tuple(tensor.shape)} "
                                 f"({dim} is {sizes[dim]} and {size})")
    return sizes
