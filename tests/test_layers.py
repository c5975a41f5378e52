"""Imports run one way: each part of fusion imports only from lower layers (docs/design.md, Package map)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fusion"
LAYERS = [
    {"errors", "stopwatch", "checks", "progress", "command_line"},
    {"hardware", "instantiate", "io", "metrics"},
    {"faces", "blend", "model", "tracking"},
    {"demo"},
    {"data"},
    {"training", "swap", "occlusion", "color"},
    {"eval", "export", "tune"},
    {"config"},
    {"bench"},
    {"commands"},
]
LAYER = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """`fusion.io.image` -> `io`; `fusion.errors` -> `errors`."""
    return module.split(".")[1]


def imports(path: Path) -> set[str]:
    """Every `fusion.*` module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fusion."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fusion."))
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "__init__.py")


def test_every_part_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in SOURCES}
    assert parts == set(LAYER)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = sorted(m for m in imports(path) if part_of(m) != own and LAYER[part_of(m)] >= LAYER[own])
    assert not upward, f"{path.relative_to(PACKAGE)} (layer {LAYER[own]}) imports {upward} from its own layer or above"


def test_the_rule_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from fusion.eval.evaluate import evaluate\n    import fusion.io.image\n")
    found = imports(source)
    assert found == {"fusion.eval.evaluate", "fusion.io.image"}
    assert LAYER[part_of("fusion.eval.evaluate")] > LAYER["training"]  # what training may not import
