"""Where benchmarks find the team's shared talking-head clips: `paths.shared_clips` in
fusion/conf/paths/default.yaml, with `paths.root_dir` the checkout (wherever the bench is run from)."""

from pathlib import Path

from fusion.config import CONF

REPO = Path(__file__).resolve().parents[2]


def shared_clips_path(repo: Path = REPO) -> Path:
    """`paths.shared_clips` resolved against `repo` (no Hydra needed; without OmegaConf the yaml is read directly)."""
    source = CONF / "paths" / "default.yaml"
    try:
        from omegaconf import OmegaConf
    except ImportError:  # a torch + Lightning machine (as the GPU smoke check allows): PyYAML comes with Lightning
        import yaml

        value = yaml.safe_load(source.read_text())["shared_clips"].replace("${paths.root_dir}", str(repo))
    else:
        paths = OmegaConf.load(source)
        paths.root_dir = str(repo)
        value = OmegaConf.create({"paths": paths}).paths.shared_clips
    return Path(value).resolve()


SHARED_CLIPS = shared_clips_path()
