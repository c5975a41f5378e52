"""Where benchmarks find the team's shared talking-head clips (beside the repository)."""

from pathlib import Path

SHARED_CLIPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "clips"
