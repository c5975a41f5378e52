"""What `swap` prints when it ends: frames and faces, speed and where the time went, what it wrote and its
manifest, its warnings, and the command that scores the model next."""

from pathlib import Path

from fusion.command_line import command_line
from fusion.swap.pipeline import SwapReport, preview_path
from fusion.swap.writer import manifest_path


def swap_summary(report: SwapReport, output: str | Path, checkpoint: str | Path, preview: bool) -> list[str]:
    """The closing lines of a swap with `checkpoint` that wrote `output` (and, with `preview`, its
    side-by-side video); the frames without a face are listed up to the first 20. A render skipped as
    finished before says so."""
    if report.already is not None:
        return [f"{output} is already rendered as asked ({report.already}): skipped; overwrite=true renders it again"]
    total = sum(report.seconds.values())
    shares = ", ".join(f"{stage} {seconds / total:.0%}" for stage, seconds in report.seconds.items())
    evaluate = command_line("evaluate.py", {"checkpoint": checkpoint})
    faceless = report.no_face
    resumed = [f"resumed: {report.resumed} frames finished by a stopped run of this render"] if report.resumed else []
    return [f"{report.frames} frames, {report.swapped} swapped, no face in {len(faceless)}: {faceless[:20]}",
            *resumed,
            *([f"coverage: {report.coverage} (python coverage_report.py names them)"] if report.coverage else []),
            f"{report.frames_per_second:.1f} frames/s ({shares})",
            f"wrote {output}",
            f"how it was made: {manifest_path(Path(output))}",
            *(f"warning: {warning}" for warning in report.warnings),
            *([f"side by side: {preview_path(Path(output))}"] if preview else []),
            f"to score the model on held-out frames: {evaluate}"]
