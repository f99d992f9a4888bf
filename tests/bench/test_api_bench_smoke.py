"""The job API benchmark still runs end to end: one second of flows at c=1 on its own stack (~17 s).

``tests/bench`` is in pytest's ``norecursedirs``, so run it by path:
``pytest tests/bench/test_api_bench_smoke.py``.
"""

from __future__ import annotations

from pathlib import Path

from tests.bench.api import bench


def test_one_second_of_flows_reports_rows_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "api.md"
    one_cell = ["--concurrency", "1", "--duration", "1", "--stream-concurrency", "0", "--no-direct"]
    result = bench([*one_cell, "--warmup", "0", "--output", str(out)])

    assert [(c.kind, c.concurrency, c.stream) for c in result.cells] == [("flow", 1, False)]
    flow = result.cells[0].samples
    assert flow.flows > 0
    assert len(flow.latencies["llm-call"]) >= 3 * flow.flows
    assert result.errors == 0, flow.examples
    assert all(ok for _name, ok, _detail in result.checks), result.checks
    report = out.read_text(encoding="utf-8")
    assert report == result.report
    assert "| flow, 3 calls | no | 1 |" in report
    assert report.count("| pass |") == 3
