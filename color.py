"""A checkpoint's color-harmonisation LUT network (image-adaptive 3D LUT): `python color.py checkpoint=...`.

The same as `fusion-color`, in a checkout (fusion/commands/color.py).
"""

from fusion.commands.color import main

if __name__ == "__main__":
    main()
