"""The commands: `fusion-train`, `fusion-prepare`, `fusion-swap`, `fusion-evaluate`, `fusion-coverage`,
`fusion-tune`, `fusion-matte`, `fusion-color` and `fusion-export` (in a checkout also `python train.py`, ...).

Each module here describes one command as a `Command` (`command.py`): its
config, its schema, the package function it runs and how its result reads;
`command.launch` runs any of them the same way. This is the top floor: it
imports what it runs, and nothing imports it.
"""
