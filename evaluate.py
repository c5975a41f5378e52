"""Held-out metrics of a trained model: `python evaluate.py checkpoint=... [cache_folder=...]`.

The same as `fusion-evaluate`, in a checkout (fusion/commands/evaluate.py).
"""

from fusion.commands.evaluate import main

if __name__ == "__main__":
    main()
