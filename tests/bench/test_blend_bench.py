"""`python -m fusion.bench blend`: the benchmark runs and reports its ratios."""

from fusion.bench import blend as blend_bench


def test_benchmark_reports_ratios():
    report = blend_bench.main(["--sizes", "64", "--batch", "2", "--repeats", "1", "--warmup", "0"])
    entry = report["sizes"]["64"]
    assert entry["ratio"] > 0 and entry["blend_ms"] > 0 and entry["opencv_pyramids_ms"] > 0
    assert entry["differentiable_ratio"] > 0
    assert isinstance(report["target_met"], bool)
