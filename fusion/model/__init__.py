"""FusionNet (shared encoder, per-identity decoders) and its levels; see docs/design.md (Network).

The package imports nothing itself, so that `fusion.model.section_configs` (the sizes a command line checks)
loads without torch: import from the modules (`fusion.model.fusion_net`, `levels`, `widths`).
"""
