"""Train FusionNet through its curriculum: `python train.py [overrides]`.

The same as `fusion-train`, in a checkout (fusion/commands/train.py).
"""

from fusion.commands.train import main

if __name__ == "__main__":
    main()
