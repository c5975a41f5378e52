"""`python -m fusion.bench NAME [args]`: run one benchmark and print its JSON.

Each benchmark is a module `fusion.bench.<name>` (dashes become underscores)
with a `main(argv) -> dict`; this entry point only finds it and prints.
"""

import importlib
import json
import pkgutil
import sys

import fusion.bench


def available() -> list[str]:
    """Benchmark names: the `fusion.bench` modules, dashes for underscores, so the usage line lists what exists."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules(fusion.bench.__path__)
        if not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    """Run benchmark `argv[0]` with the rest of `argv` and print its JSON (exit status 0), or the usage (2)."""
    if not argv or argv[0] not in available():
        print(f"usage: python -m fusion.bench NAME [args]; NAME is one of {available()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"fusion.bench.{argv[0].replace('-', '_')}")
    print(json.dumps(module.main(argv[1:]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
