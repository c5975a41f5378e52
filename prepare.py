"""Footage to aligned face caches: `python prepare.py footage=... cache=...`.

The same as `fusion-prepare`, in a checkout (fusion/commands/prepare.py).
"""

from fusion.commands.prepare import main

if __name__ == "__main__":
    main()
