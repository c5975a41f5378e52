"""Checks, before any work starts, that outputs can never destroy inputs.

A facility may hold only one copy of a plate. An output that is an input,
lies inside an input folder, or would replace an input file is refused
whatever the options; an output that would replace a previous output is
refused unless the user says `overwrite=true`. An output folder is replaced
whole, so it may hold only a previous render's frames: anything else there
(a subfolder, a note, another kind of file) is refused rather than deleted.
"""

import os
from pathlib import Path

from fusion.errors import OutputError

#: How older versions named the staging folders they left inside an output folder: a previous render's debris.
OLD_STAGING = ".fusion.partial"


def _clash(output: Path, resolved: Path, source: Path, source_resolved: Path) -> str | None:
    """How `output` would touch the input `source`, if it would."""
    if resolved == source_resolved or (output.exists() and source.exists() and os.path.samefile(output, source)):
        return "would overwrite"
    if source.is_dir() and resolved.is_relative_to(source_resolved):
        return "would overwrite a file in" if output.exists() else "lies inside"
    return None


def check_outputs(outputs: list[Path], inputs: list[Path], overwrite: bool = False, key: str = "output") -> None:
    """Refuse outputs (files to be written) that touch `inputs` (files or folders), or exist already.

    >>> import tempfile
    >>> plate = Path(tempfile.mkdtemp()) / "plate.png"
    >>> _ = plate.write_bytes(b"x")
    >>> check_outputs([plate.with_name("swapped.png")], [plate])
    >>> check_outputs([plate], [plate], overwrite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusion.errors.OutputError: output ... would overwrite the input .../plate.png; ...
    """
    sources = [(Path(source), Path(source).resolve()) for source in inputs]
    existing = []
    for output in map(Path, outputs):
        resolved = output.resolve()
        for source, source_resolved in sources:
            verb = _clash(output, resolved, source, source_resolved)
            if verb:
                raise OutputError(f"{key} {output} {verb} the input {source}; inputs are never replaced: "
                                  f"choose another {key}")
        if output.exists() or output.is_symlink():
            existing.append(output)
    if existing and not overwrite:
        shown = ", ".join(str(p) for p in existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise OutputError(f"{key} exists: {shown}; pass overwrite=true to replace a previous output, "
                          f"or choose another {key}")


def _is_frame(path: Path, suffixes: tuple[str, ...]) -> bool:
    """A previous render's frame (a file with one of `suffixes`), or an older version's staging debris."""
    if path.name.startswith(OLD_STAGING):
        return True
    return path.is_file() and path.suffix.lower() in suffixes


def replaced_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """What replacing `folder` whole removes: a previous render's frames (files ending in one of `suffixes`).

    A render replaces its output folder in one step, so anything else there
    (a subfolder, a note, another kind of file) would be deleted with it: that
    is refused, naming the folder and the fix.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "plate.0001.png").write_bytes(b"x")
    >>> [p.name for p in replaced_files(folder, (".png",))]
    ['plate.0001.png']
    >>> (folder / "notes").mkdir()
    >>> replaced_files(folder, (".png",))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fusion.errors.OutputError: folder ... holds notes besides a render's frames (.png); ...
    """
    if not os.path.lexists(folder):
        return []
    if not folder.is_dir():
        raise OutputError(f"{folder} is a file, but this output writes a folder there; "
                          "move the file or choose another output")
    entries = sorted(folder.iterdir())
    others = [p.name for p in entries if not _is_frame(p, suffixes)]
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise OutputError(f"folder {folder} holds {shown} besides a render's frames ({', '.join(suffixes)}); "
                          "a render replaces the whole folder and never deletes other files: "
                          "move them out or choose another output")
    return entries
