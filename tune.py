"""A checkpoint's encoder tuned on one shot: `python tune.py checkpoint=... actor=... shot=...`.

The same as `fusion-tune`, in a checkout (fusion/commands/tune.py).
"""

from fusion.commands.tune import main

if __name__ == "__main__":
    main()
