"""``make bench`` reports every figure with its floor and ratio (the report's logic, on
made-up numbers: the benchmark itself is not run by the tests)."""

from __future__ import annotations

from pathlib import Path

import benchmarks.__main__ as bench


def test_every_figure_has_a_floor_is_one_or_says_why_not() -> None:
    for name in bench.TARGETS:
        if name.startswith("floor_") or name in bench.NO_FLOOR:
            continue
        assert name in bench.FLOOR_OF, f"{name} has no floor"
        assert bench.FLOOR_OF[name] in bench.TARGETS
        assert bench.FLOOR_OF[name] in bench.FLOOR_NAMES


def test_the_report_shows_each_ratio_beside_its_figure(tmp_path: Path) -> None:
    figures = {name: [2.0, 4.0, 3.0] for name in bench.TARGETS}
    figures["floor_startup_s"] = [1.0, 2.0, 1.0]
    del figures["floor_redis_rtt_ms"]  # a floor a run could not measure (no Redis)
    summary = bench.summarise(figures, runs=3)
    first = summary["figures"]["first_frame_s"]
    assert first["floor"] == "floor_startup_s" and first["ratio_to_floor"] == 2.0
    report = tmp_path / "performance.md"
    report.write_text(
        "# Performance\n\nbefore\n<!-- figures -->\nSTALE TABLE\n<!-- figures -->\nafter\n"
    )
    bench.write_report(summary, report)
    text = report.read_text()
    assert text.startswith("# Performance\n\nbefore\n") and text.endswith("after\n")
    assert "STALE TABLE" not in text
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    launch = rows[bench.TARGETS["first_frame_s"][2]]
    assert "| 2.00x bare app | 3 |" in launch
    assert "| (a ratio) |" in rows[bench.TARGETS["persistence_overhead_pct"][2]]
    assert "| floor |" in rows[bench.TARGETS["floor_startup_s"][2]]
    assert "(floor not measured)" in rows[bench.TARGETS["service_broker_overhead_p95_ms"][2]]
