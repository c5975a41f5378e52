"""Reading and writing fusion's own images (crops, mattes, contact sheets) at their native bit depth, and
the color encoding the network sees.

8-bit, 16-bit (PNG/TIFF) and float (EXR/TIFF) data keep their dtype end to end,
so nothing here converts to uint8 except `to_uint8`, which detectors use on a
copy. Arrays are RGB, (H, W, 3). Plates, whose every channel and header must
survive a swap, are read and written by `fusion.io.plate`.
"""

import os
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

from fusion.errors import UserError, WriteError
from fusion.io.atomic import atomic_path, write_bytes


class ImageReadError(UserError, OSError):
    """An image file that exists but cannot be decoded."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as stored: (H, W), (H, W, 3) RGB or (H, W, 4) RGBA.

    Raises ImageReadError naming the file when it cannot be decoded.
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        return _read_exr(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: cannot decode this image (corrupt or not a {path.suffix} file); re-export it or remove it")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _read_exr(path: Path) -> np.ndarray:
    try:
        with OpenEXR.File(str(path)) as exr:
            channels = exr.channels()
            if "RGB" in channels:
                image = channels["RGB"].pixels
            elif "RGBA" in channels:
                image = channels["RGBA"].pixels
            elif "Y" in channels:
                image = channels["Y"].pixels
            else:
                names = ", ".join(channels)
                raise ImageReadError(f"{path}: EXR has no RGB, RGBA or Y channels (found {names}); export a beauty pass")
    except ImageReadError:
        raise
    except Exception as error:
        raise ImageReadError(f"{path}: cannot decode this EXR ({error}); re-export it or remove it") from error
    return np.ascontiguousarray(image, dtype=np.float32)


def white_level(dtype: np.dtype) -> float:
    """The value of full white: 255 for uint8, 65535 for uint16, 1.0 for float (scene-linear, may exceed it).

    >>> white_level(np.dtype(np.uint16)), white_level(np.dtype(np.float32))
    (65535.0, 1.0)
    """
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


def to_unit(image: np.ndarray) -> np.ndarray:
    """float32 copy with white at 1.0, whatever the stored dtype; no transfer curve (stage packs hold
    values already in the network's encoding).

    >>> to_unit(np.array([0, 65535], np.uint16)).tolist()
    [0.0, 1.0]
    """
    if image.dtype == np.uint8 and 1 <= image.ndim <= 3 and image.size:  # by table: one pass, the same numbers
        return cv2.LUT(image, _UINT8_UNITS).reshape(image.shape)
    return image.astype(np.float32) / white_level(image.dtype)


#: `to_unit` of each 8-bit value.
_UINT8_UNITS = np.arange(256, dtype=np.float32) / np.float32(255)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve, extended odd-symmetrically and above 1 so that any float round-trips.

    >>> srgb_encode(np.array([0.0, 0.2140, 1.0], np.float32)).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    linear = np.asarray(linear, np.result_type(linear, np.float32))
    magnitude = np.abs(linear, out=np.empty_like(linear))  # in place from here: a 4K face box is tens of megabytes
    encoded = np.power(magnitude, 1 / 2.4, out=np.empty_like(linear))
    encoded *= 1.055
    encoded -= 0.055
    np.copyto(encoded, 12.92 * magnitude, where=magnitude <= 0.0031308)
    return np.copysign(encoded, linear, out=encoded).astype(np.float32, copy=False)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """The inverse of `srgb_encode`.

    >>> values = np.array([-0.5, 0.002, 0.3, 4.0], np.float32)
    >>> bool(np.allclose(srgb_decode(srgb_encode(values)), values, rtol=1e-6))
    True
    """
    encoded = np.asarray(encoded, np.result_type(encoded, np.float32))
    magnitude = np.abs(encoded, out=np.empty_like(encoded))
    linear = np.add(magnitude, 0.055, out=np.empty_like(encoded))
    linear /= 1.055
    np.power(linear, 2.4, out=linear)
    np.copyto(linear, magnitude / 12.92, where=magnitude <= 0.04045)
    return np.copysign(linear, encoded, out=linear).astype(np.float32, copy=False)


def encode(image: np.ndarray) -> np.ndarray:
    """Stored pixels in the network's encoding: float32, white at 1.0, sRGB-encoded.

    8- and 16-bit files are display-referred already; float data (EXR) is
    scene-linear and goes through the sRGB curve, so crops of either kind
    look alike to the network and can share a cache and a pack.

    >>> encode(np.array([255], np.uint8)).tolist(), encode(np.array([0.2140], np.float32)).round(3).tolist()
    ([1.0], [0.5])
    """
    if np.issubdtype(image.dtype, np.floating):
        return srgb_encode(image.astype(np.float32, copy=False))  # white is 1.0 already
    return to_unit(image)


def decode(unit: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """The inverse of `encode`: network-encoded values back to pixels of `dtype` (float: scene-linear).

    >>> decode(np.array([0.5, 1.2]), np.uint8).tolist(), round(float(decode(np.array([0.5]), np.float32)[0]), 4)
    ([128, 255], 0.214)
    """
    if np.issubdtype(np.dtype(dtype), np.floating):
        return srgb_decode(unit).astype(dtype, copy=False)
    return to_integers(unit, dtype)


#: OpenCV's depth for each integer dtype `to_integers` hands to it.
_CV_DEPTHS = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.uint16): cv2.CV_16U}


def to_integers(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values with white at 1.0 as integers of `dtype`, rounded half to even and clipped to its range; NaN is 0.

    float32 goes through OpenCV's saturating multiply (one pass instead of numpy's four: a 4K face box is tens
    of megabytes), the same numbers.

    >>> to_integers(np.array([-0.1, 0.5, 1.5 / 255, np.nan], np.float32), np.uint8).tolist()
    [0, 128, 2, 0]
    """
    dtype = np.dtype(dtype)
    scale = white_level(dtype)
    if values.dtype == np.float32 and dtype in _CV_DEPTHS and values.size and not np.isnan(values).any():
        return cv2.multiply(values.reshape(-1, 1), scale, dtype=_CV_DEPTHS[dtype]).reshape(values.shape)
    with np.errstate(invalid="ignore"):  # NaN becomes 0
        return np.clip(np.round(values * scale), 0, scale).astype(dtype)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An 8-bit copy for detectors and previews, which only take 8-bit input (float through the sRGB curve).

    >>> to_uint8(np.array([[0, 65535]], np.uint16)).tolist()
    [[0, 255]]
    """
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image.astype(np.float32) * (255 / 65535) + 0.5).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return (np.clip(encode(image), 0, 1) * 255 + 0.5).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {image.dtype}; expected uint8, uint16 or float")


def write_image(path: str | os.PathLike, image: np.ndarray, png_compression: int = 1) -> None:
    """Write an RGB image atomically, keeping its dtype (float goes to EXR).

    PNG compression defaults to level 1: much faster than OpenCV's default
    for slightly larger files (docs/measurements.md), the right trade
    for a cache that is written once.
    Other formats are encoded in memory and written with Python's own file
    calls, so a full disk is reported as one (OpenCV's writer only says no).
    """
    path = Path(path)
    if path.suffix.lower() == ".exr":
        with atomic_path(path, image.nbytes) as tmp:
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            with OpenEXR.File(header, {"RGB": np.ascontiguousarray(image, dtype=np.float32)}) as exr:
                exr.write(str(tmp))
        return
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    params = [cv2.IMWRITE_PNG_COMPRESSION, png_compression] if path.suffix.lower() == ".png" else []
    try:
        ok, encoded = cv2.imencode(path.suffix, bgr, params)
    except cv2.error:
        ok = False
    if not ok:
        raise WriteError(f"{path}: OpenCV cannot write a {image.dtype} image as {path.suffix}; "
                         "write 16-bit as .png or .tif, float as .exr")
    write_bytes(path, encoded.tobytes())
