"""Commands to paste: `key=value` overrides that the shell and Hydra both read back as the values they name.

A closing message's next command (`python train.py footage=...`) is copied
into a shell, which splits an unquoted path at its spaces, and then parsed by
Hydra's override grammar, which reads `,` as a sweep, `${` as an
interpolation, `123` as a number and stops at `=`, `[` or `'`. Each value that
the grammar would not read back as itself is double-quoted for Hydra, and each
whole override quoted for the shell. The command itself is written as this
one was started: `python train.py` in a checkout, `fusion-train` installed.
It imports nothing of fusion's, so every result that closes with a command to
paste can use it, whatever its layer.
"""

import re
import shlex
import sys
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser

#: Characters an unquoted Hydra value may hold and keep as they are.
_PLAIN = re.compile(r"[\w/.+@%:-]+", re.ASCII)
#: A run of backslashes before what Hydra's quoted string or OmegaConf reads as an escape: `"`, `${`, the end.
_BEFORE_ESCAPE = re.compile(r'(\\*)("|\$\{|$)')


def _reads_back(text: str) -> bool:
    """Whether `key=<text>` gives Hydra the string `text` itself (not a number, a bool or null)."""
    return _PLAIN.fullmatch(text) is not None and OverridesParser.create().parse_override(f"key={text}").value() == text


def hydra_value(value: object) -> str:
    """`value` written for Hydra's override grammar: as it is where the grammar reads that back as the same
    string, else in double quotes with `\\`, `"` and `${` escaped; numbers as written, bools as true/false.

    >>> hydra_value("/data/footage"), hydra_value("/my footage"), hydra_value("2024")
    ('/data/footage', '"/my footage"', '"2024"')
    >>> hydra_value(64), hydra_value(True)
    ('64', 'true')
    >>> print(hydra_value('/a "b", ${c}\\\\'))
    "/a \\"b\\", \\${c}\\\\"
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _reads_back(text):
        return text
    escaped = _BEFORE_ESCAPE.sub(lambda found: found[1] * 2 + ("\\" + found[2] if found[2] else ""), text)
    return f'"{escaped}"'


def program(script: str, started_as: str | None = None) -> list[str]:
    """How to start `script` (train.py, ...) the way this process was started (`started_as`, by default
    `sys.argv[0]`): `fusion-train` where it is an installed command, such as `fusion-prepare`, else
    `python train.py`, as in a checkout.

    >>> program("train.py", "/venv/bin/fusion-prepare"), program("train.py", "prepare.py")
    (['fusion-train'], ['python', 'train.py'])
    """
    if Path(sys.argv[0] if started_as is None else started_as).name.startswith("fusion-"):
        return [f"fusion-{Path(script).stem}"]
    return ["python", script]


def command_line(script: str, overrides: dict[str, object]) -> str:
    """`python <script> key=value ...` (`fusion-<name> ...` from an installed command: `program`), each
    override quoted for Hydra (`hydra_value`) and then for the shell.

    >>> print(command_line("train.py", {"footage": "/my footage", "crop.resolution": 64}))
    python train.py 'footage="/my footage"' crop.resolution=64
    """
    return shlex.join([*program(script), *(f"{key}={hydra_value(value)}" for key, value in overrides.items())])
