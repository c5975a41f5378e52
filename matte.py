"""A checkpoint's occlusion-aware face matte, learned semi-supervised: `python matte.py checkpoint=...`.

The same as `fusion-matte`, in a checkout (fusion/commands/matte.py).
"""

from fusion.commands.matte import main

if __name__ == "__main__":
    main()
