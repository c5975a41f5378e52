"""`python -m fusion.bench swap --plate 4k`: old code and new on a 4K close-up, in four formats (DPX: new code only)."""

import pytest

from fusion.bench import swap as swap_bench


@pytest.mark.slow
def test_the_4k_bench_swaps_each_format_with_old_code_and_new():
    report = swap_bench.main(["--plate", "4k", "--frames", "1", "--repeats", "1"])
    assert set(report["formats"]) == {"png16", "exr", "dpx", "mp4"}
    for name, runs in report["formats"].items():
        versions = ("new",) if name == "dpx" else ("old", "new")  # the old commit reads no DPX
        assert set(runs) == set(versions) | ({"speedup"} if len(versions) == 2 else set())
        for version in versions:
            assert runs[version]["swapped"] == 1 and runs[version]["frames_per_second"] > 0
            assert {"read", "composite", "write"} <= set(runs[version]["share_of_time"])
        assert name == "dpx" or runs["speedup"] > 0


def test_an_unknown_old_commit_is_named(tmp_path):
    with pytest.raises(SystemExit, match="--old nosuchcommit: git archive failed"):
        swap_bench._old_package("nosuchcommit", tmp_path)
