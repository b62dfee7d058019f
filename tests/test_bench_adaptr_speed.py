"""The adaptr speed comparison of benchmarks/bench_adaptr_control.py, without R or long runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks import bench_adaptr_control as bench


def fake_rscript_output(joss: tuple[float, float], tests: tuple[float, float]) -> str:
    return ("adaptr 1.1.1.9000 on R version 4.2.2, 100 trials x 3 repeats, cores = 1\n"
            f"RESULT adaptr_joss_control trials_per_second={joss[0]} trials_per_cpu_second={joss[1]} "
            "wall_s=1,1,1 cpu_s=1,1,1\n"
            f"RESULT adaptr_tests_futility trials_per_second={tests[0]} trials_per_cpu_second={tests[1]} "
            "wall_s=1,1,1 cpu_s=1,1,1\n")


@pytest.fixture
def fast_trialsim(monkeypatch):
    """trialsim at fixed speeds: (wall, CPU) trials per second for workers=1."""
    speeds = {"adaptr_joss_control": (600.0, 900.0), "adaptr_tests_futility": (800.0, 1200.0)}
    monkeypatch.setattr(bench, "trials_per_second", lambda name, n, workers, repeats: speeds[name])
    return speeds


def run_main(monkeypatch, capsys, *argv: str) -> str:
    monkeypatch.setattr(sys, "argv", ["bench_adaptr_control.py", "--workers", "1", *argv])
    bench.main()
    return capsys.readouterr().out


def test_measured_adaptr_gives_ratios_per_cpu_second_and_wall(monkeypatch, capsys, fast_trialsim):
    monkeypatch.setattr(bench, "adaptr_missing", lambda: None)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=fake_rscript_output((10.0, 30.0), (20.0, 40.0)))

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    out = run_main(monkeypatch, capsys, "--adaptr", "--adaptr-trials", "100", "--repeats", "3")
    assert calls == [["Rscript", str(bench.ADAPTR_SCRIPT), "100", "3"]]
    joss = next(line for line in out.splitlines() if line.startswith("JOSS paper design") and "measured" in line)
    assert "30.0x per CPU-second" in joss and "60.0x wall" in joss  # 900/30 and 600/10
    tests = next(line for line in out.splitlines() if line.startswith("adaptr test design") and "measured" in line)
    assert "30.0x per CPU-second" in tests and "40.0x wall" in tests  # 1200/40 and 800/20


def test_without_adaptr_only_the_published_comparison(monkeypatch, capsys, fast_trialsim):
    monkeypatch.setattr(bench, "adaptr_missing", lambda: "R cannot load adaptr")
    monkeypatch.setattr(bench, "measure_adaptr", lambda *a: pytest.fail("adaptr must not be run"))
    out = run_main(monkeypatch, capsys, "--adaptr")
    assert "adaptr not available: R cannot load adaptr" in out
    assert "adaptr 1.4 (31-63 trials/s, one core)" in out
    assert "measured" not in out


def test_adaptr_missing_without_rscript(monkeypatch):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    assert bench.adaptr_missing() == "Rscript is not installed"
