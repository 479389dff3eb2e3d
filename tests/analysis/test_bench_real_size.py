"""scripts/bench_real_size.py's measure of a command's peak memory: the command's own, not its parent's."""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPTS = Path(__file__).parents[2] / "scripts"


def test_a_commands_peak_memory_is_its_own_not_the_benchmarks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # the script imports memory_model from beside it
    bench = runpy.run_path(str(SCRIPTS / "bench_real_size.py"))
    ballast = b"\x01" * (1536 * 2**20)  # this process now holds 1.5 GB more, as the benchmark holds its backbone
    log: list[dict] = []
    record = bench["mmprep"](log, "synth", tmp_path / "s.zarr", "--videos", 2)
    assert len(ballast) and log == [record] and record["command"].startswith("mmprep synth ")
    # Started straight from this process, Linux counted at least the 1.5 GB; `mmprep synth` itself needs far less.
    assert 10 < record["peak_rss_mb"] < 1024
