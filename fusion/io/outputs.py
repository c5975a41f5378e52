"""Checks, before any work starts, that outputs can never destroy inputs.

A facility may hold only one copy of a plate. An output that is an input,
lies inside an input folder, or would replace an input file is refused
whatever the options; an output that would replace a previous output is
refused unless the user says `overwrite=true`.
"""

import os
from pathlib import Path

from fusion.errors import OutputError


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
