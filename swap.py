"""Swap a trained identity's face into a plate: `python swap.py checkpoint=... identity=... input=... output=...`.

The same as `fusion-swap`, in a checkout (fusion/commands/swap.py).
"""

from fusion.commands.swap import main

if __name__ == "__main__":
    main()
