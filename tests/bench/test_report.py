"""``make bench`` reports every figure with its floor and ratio (the report's logic, on
made-up numbers: the benchmark itself is not run by the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

import benchmarks.__main__ as bench


def test_every_figure_has_a_floor_is_one_or_says_why_not() -> None:
    for name, figure in bench.FIGURES.items():
        if name.startswith("floor_") or figure.no_floor:
            assert figure.floor is None, f"{name} is a floor or has none, yet names one"
            continue
        assert figure.floor in bench.FIGURES, f"{name} has no floor"
        assert bench.FIGURES[figure.floor].floor_name, f"{figure.floor} has no name as a floor"


def test_a_figure_the_table_does_not_know_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "figures.toml"
    table.write_text('[first_frame_s]\nwhat = "x"\nunit = "s"\nflor = "floor_startup_s"\n')
    with pytest.raises(TypeError, match="flor"):
        bench.load_figures(table)


def test_the_report_shows_each_ratio_beside_its_figure(tmp_path: Path) -> None:
    figures = {name: [2.0, 4.0, 3.0] for name in bench.FIGURES}
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
    launch = rows[bench.FIGURES["first_frame_s"].what]
    assert "| 2.00x bare app | 3 |" in launch
    assert "| (a ratio) |" in rows[bench.FIGURES["persistence_overhead_pct"].what]
    assert "| floor |" in rows[bench.FIGURES["floor_startup_s"].what]
    assert "(floor not measured)" in rows[bench.FIGURES["service_broker_overhead_p95_ms"].what]


def test_targets_are_met_or_not_by_their_own_rule() -> None:
    figures = {name: [2.0] for name in bench.FIGURES}
    figures["floor_startup_s"] = [1.0]  # first frame: 2x the bare app, ratio target 1.3x
    figures["service_scaling_2_over_1"] = [1.6]  # a rate: met when it reaches 1.5
    figures["undo_ms"] = [12.0]  # 10 ms at most
    summary = bench.summarise(figures, runs=1)["figures"]
    assert summary["first_frame_s"]["met"] is False
    assert summary["service_scaling_2_over_1"]["met"] is True
    assert summary["undo_ms"]["met"] is False
    assert summary["edit_path_ms"]["met"] is True
    assert summary["key_p50_during_stream_ms"]["met"] is None
