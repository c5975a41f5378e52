"""One identity's face model for Nuke or Flame: `python export.py checkpoint=... identity=... format=...`.

The same as `fusion-export`, in a checkout (fusion/commands/export.py).
"""

from fusion.commands.export import main

if __name__ == "__main__":
    main()
