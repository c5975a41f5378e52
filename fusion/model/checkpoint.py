"""The checkpoint format: what fusion writes beside Lightning's state, and reading it without running anything.

A model file travels between artists and facilities, and a pickle can call
any Python function while it loads. Every checkpoint fusion reads (swap,
evaluate, resume, Lightning's restore) goes through `torch.load` with
`weights_only=True`, which admits tensors and plain containers only; fusion
writes nothing else (the `fusion` section is ints, strings, bools, lists
and dicts). A file carrying anything more is refused before any of it runs,
and a file of another kind (an image, an exported model, a copy cut short)
before `torch.load` sees it, with what it is and what to pass instead.

Beside Lightning's keys, a checkpoint holds `state_dict` (`net.*` weights,
`net_ema.*` their moving average where training kept one) and a `fusion`
section: `growth` (replayed by `FusionNet.build`), `phase` (the curriculum
phase it ends or interrupts), `identities` (decoder order), `net` (the
FusionConfig) and `crop` (the CropSettings its crops were made with). A checkpoint
made by `matte.py` also holds a learned face matte (`MATTE_SECTION`), one made by `color.py` a
color LUT network (`COLOR_SECTION`).
"""

import json
import pickle
import re
import zipfile
from dataclasses import asdict
from pathlib import Path

import torch

from fusion.errors import CheckpointError
from fusion.io.atomic import atomic_path
from fusion.model.fusion_net import FusionConfig, FusionNet
from fusion.model.color_lut import ColorNet
from fusion.model.matte_net import MatteNet
from fusion.model.section_configs import ColorConfig, MatteConfig

#: Keys of the `fusion` section every loader relies on.
REQUIRED = ("growth", "phase", "identities", "net")
#: A file's first bytes, for the kinds of file a checkpoint is mistaken for.
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"v/1\x01": "an OpenEXR image",
              b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image"}
TORCHSCRIPT = "a TorchScript model (what export.py writes for Nuke)"
ONNX = "an ONNX model (what export.py writes for Flame)"
EMPTY, CUT_SHORT = "empty (0 bytes)", "cut short (a zip archive without its end)"
#: Where train.py writes the checkpoint every command takes.
TRAINED = "outputs/train/<run>/checkpoints/last.ckpt"


def _looks_like_onnx(head: bytes) -> bool:
    """An ONNX ModelProto: `ir_version` (field 1, a small varint) first, then another of its fields.

    >>> _looks_like_onnx(bytes.fromhex("080a12077079746f726368")), _looks_like_onnx(b"\\x80\\x02}q")
    (True, False)
    """
    return len(head) > 2 and head[0] == 0x08 and head[1] < 0x80 and head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A)


def _zip_kind(names: list[str]) -> str | None:
    """What a zip archive holding `names` is: TORCHSCRIPT, another kind, or None for `torch.save`'s (its
    members under one folder, `data.pkl` among them).

    >>> _zip_kind(["face/data.pkl", "face/constants.pkl", "face/code/__torch__/m.py"]) == TORCHSCRIPT
    True
    >>> _zip_kind(["last/data.pkl", "last/data/0"]) is None, _zip_kind(["a.png", "b.png", "c.png", "d.png"])
    (True, 'a zip archive of another kind (a.png, b.png, c.png, ...)')
    """
    members = [name.split("/", 1)[-1] for name in names]
    if "constants.pkl" in members or any(member.startswith("code/") for member in members):
        return TORCHSCRIPT
    if "data.pkl" in members:
        return None
    return f"a zip archive of another kind ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"


def file_kind(path: str | Path) -> str | None:
    """What the file at `path` is where it cannot be a checkpoint, from its first bytes and, in a zip, the names
    of its members (nothing in it is loaded): an image, TORCHSCRIPT, ONNX, another zip, a text file, EMPTY or
    CUT_SHORT. None where it may be one (a `torch.save` zip, or a pickle), for `torch.load` to judge."""
    with open(path, "rb") as file:
        head = file.read(64)
    if not head:
        return EMPTY
    if head.startswith(b"\x80"):  # a pickle: torch.save's format before its zip
        return None
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                return _zip_kind(archive.namelist())
        except zipfile.BadZipFile:
            return CUT_SHORT
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if _looks_like_onnx(head):
        return ONNX
    if all(32 <= byte < 127 or byte in b"\t\n\r" for byte in head):
        return f"a text file (it begins {' '.join(head.decode().split())[:40]!r})"
    return f"a file of another kind (it begins {head[:8].hex(' ')})"


def _exported_from(path: Path) -> str | None:
    """The checkpoint that export.py's sidecar beside the model at `path` (`<stem>.json`) names, if it has one."""
    try:
        return json.loads(path.with_suffix(".json").read_text())["checkpoint"]["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refuse_non_checkpoint(path: str | Path) -> None:
    """Raise CheckpointError for a file that `file_kind` finds is no checkpoint, saying what it is and what to
    pass instead: the checkpoint an exported model came from, or one that train.py wrote."""
    path = Path(path)
    try:
        kind = file_kind(path)
    except PermissionError:
        raise CheckpointError(f"{path} cannot be read (permission denied): ask for read access, or copy it "
                              "somewhere you can read") from None
    if kind in (EMPTY, CUT_SHORT):
        raise CheckpointError(f"{path} is {kind}: a copy or save that did not finish; copy it again, or pass another "
                              f"training checkpoint, e.g. {TRAINED}")
    if kind:
        source = _exported_from(path) if kind in (TORCHSCRIPT, ONNX) else None
        instead = (f"the checkpoint it was exported from, {source}" if source
                   else f"a training checkpoint, e.g. {TRAINED}")
        raise CheckpointError(f"{path} is {kind}, not a checkpoint: pass {instead}")


def _unreadable(path: Path, error: Exception) -> str:
    """Why `torch.load` (weights only) refused the file at `path`: a Python object it would have to run, or
    bytes it cannot read."""
    found = re.search(r"GLOBAL ([\w.]+)", str(error)) if isinstance(error, pickle.UnpicklingError) else None
    if found:
        return (f"{path} holds a Python object ({found.group(1)}) that loading would run; refused, and nothing in "
                "it was run. Use a checkpoint written by fusion's train.py, and ask whoever sent this one how it "
                "was made")
    return (f"{path} cannot be read as a checkpoint (damaged, cut short or not written by torch.save: "
            f"{type(error).__name__}); nothing in it was run. Copy it again, or pass a training checkpoint, "
            f"e.g. {TRAINED}")


def read_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """The checkpoint at `path` as a dict with `state_dict` and a `fusion` section, its tensors where
    `map_location` puts them (as `torch.load`'s).

    Raises CheckpointError naming the file when it is missing, of another kind (`refuse_non_checkpoint`),
    unreadable, unsafe (would execute code) or not written by fusion.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass a training checkpoint, e.g. {TRAINED}")
    refuse_non_checkpoint(path)
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(_unreadable(path, error)) from None
    info = saved.get("fusion") if isinstance(saved, dict) else None
    if not isinstance(info, dict) or "state_dict" not in saved or any(key not in info for key in REQUIRED):
        raise CheckpointError(f"{path} was not written by fusion's train.py (no 'fusion' section); pass a training "
                              f"checkpoint, e.g. {TRAINED}")
    return migrate(saved)


def migrate(saved: dict) -> dict:
    """Bring an older checkpoint's `fusion` section to the current format, in place: `growth` was one
    decoder_only flag per growth before it named the kind.

    >>> migrate({"fusion": {"growth": [False, True]}})["fusion"]["growth"]
    ['full', 'decoder_only']
    """
    info = saved["fusion"]
    info["growth"] = [("decoder_only" if kind else "full") if isinstance(kind, bool) else kind
                      for kind in info["growth"]]
    return saved


def network_weights(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """FusionNet's weights from a training state dict: the moving average where training kept one."""
    prefix = "net_ema." if any(k.startswith("net_ema.") for k in state_dict) else "net."
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def fusion_section(net: FusionNet, identities: list[str], phase: int | None, crop: dict) -> dict:
    """The `fusion` section for `net` trained on `identities` with crops made by `crop` (CropSettings as a dict)."""
    return {"growth": list(net.growth), "phase": phase, "identities": list(identities), "net": asdict(net.config),
            "crop": dict(crop)}


def load_network(saved: dict) -> FusionNet:
    """The network a read checkpoint holds, grown to its depth, with its (averaged) weights."""
    info = saved["fusion"]
    net = FusionNet.build(FusionConfig(**info["net"]), info["growth"])
    net.load_state_dict(network_weights(saved["state_dict"]))
    return net


def save_untrained(path: str | Path, identities: list[str], net: dict, crop: dict) -> Path:
    """Write an untrained network in train.py's format: what a swap or an evaluation costs before
    training (benchmarks, plumbing tests). `net` holds FusionConfig's arguments but `identities`."""
    network = FusionNet(FusionConfig(identities=len(identities), **net))
    state = {f"net.{k}": v for k, v in network.state_dict().items()}
    torch.save({"state_dict": state, "fusion": fusion_section(network, identities, None, crop)}, path)
    return Path(path)


#: The key of a learned face matte in a checkpoint (`fusion.occlusion`): {"config": MatteConfig as a dict,
#: "state_dict": its weights, "training": plain data on how it was trained and scored}.
MATTE_SECTION = "fusion_matte"
#: The key of a color-harmonisation LUT network (`fusion.color`), laid out as the matte's.
COLOR_SECTION = "fusion_color"


def _load_section(saved: dict, path: str | Path, key: str, build, command: str):
    section = saved.get(key)
    if section is None:
        return None
    try:
        net = build(section["config"])
        net.load_state_dict(section["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: its {key} section does not load ({type(error).__name__}); train it again "
                              f"with python {command}") from None
    return net.eval()


def save_with_section(saved: dict, key: str, net, training: dict, out: str | Path) -> Path:
    """Write the read checkpoint `saved` with `net` (config, weights on the CPU, and the plain `training` data)
    under `key` to `out`, atomically: the model file `_load_section` reads back."""
    saved[key] = {"config": asdict(net.config),
                  "state_dict": {name: value.detach().cpu() for name, value in net.state_dict().items()},
                  "training": training}
    with atomic_path(out) as tmp:
        torch.save(saved, tmp)
    return Path(out)


def load_matte(saved: dict, path: str | Path) -> MatteNet | None:
    """The learned face matte a read checkpoint holds (in eval mode), or None where it holds none."""
    return _load_section(saved, path, MATTE_SECTION, lambda config: MatteNet(MatteConfig(**config)), "matte.py")


def load_color(saved: dict, path: str | Path) -> ColorNet | None:
    """The color LUT network a read checkpoint holds (in eval mode), or None where it holds none."""
    return _load_section(saved, path, COLOR_SECTION, lambda config: ColorNet(ColorConfig(**config)), "color.py")
