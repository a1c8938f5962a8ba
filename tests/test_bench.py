"""The benchmark runs (timing itself is never asserted: speed is not a pass/fail test)."""

import sys

import numpy as np
import pytest

from minigen import bench


@pytest.mark.lesson04
def test_bench_runs_and_reports_every_field():
    lines = []
    rows = bench.run(workloads=["W1", "W2"], repeats=1, warmup=0, settle=0, matmul_n=128, print_fn=lines.append,
                     memory=False)
    assert [row["id"] for row in rows] == ["W1", "W2"]
    for row in rows:
        assert row["ms"] > 0 and row["gflops"] > 0 and row["matmul_gflops"] > 0
        assert row["matmul_fraction"] == pytest.approx(row["gflops"] / row["matmul_gflops"])
        assert (row["torch_ms"] is None) == (row["ratio"] is None)
    assert len(lines) == 4 and "W1" in lines[2] and "W2" in lines[3]


HELD = []


def _holding(mib):
    def step():
        HELD.append(np.ones(mib * 2 ** 18, dtype=np.float32))   # mib MiB, written (so resident), kept
    return step


def _small_step(device):
    return bench.Case(_holding(1), None, None)


def _big_step(device):
    return bench.Case(_holding(64), None, None)


def test_peak_memory_counts_what_the_steps_allocate():
    """Two steps each keeping 64 MiB show as about 128 MiB more than two steps keeping 1 MiB, measured in new
    processes (the setup functions are imported there by name)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("peak memory is read from /proc")
    small = bench.memory.peak_mib(_small_step, "cpu", "minigen")
    big = bench.memory.peak_mib(_big_step, "cpu", "minigen")
    assert 120 < big - small < 136, (small, big)
    assert bench.memory.peak_mib(_big_step, "cuda", "minigen") is None


def test_each_library_is_timed_in_a_block_of_its_own(monkeypatch):
    calls = []
    monkeypatch.setattr(bench.runner.time, "sleep", lambda s: calls.append("rest"))
    case = bench.Case(lambda: calls.append("minigen"), lambda: calls.append("torch"), None)
    bench.time_case(case, "cpu", repeats=3, warmup=1, settle=0.1)
    assert calls == ["rest"] + ["minigen"] * 4 + ["rest"] + ["torch"] * 4
    calls.clear()
    bench.time_case(case, "cpu", repeats=2, warmup=1, settle=0.1, rounds=2)     # blocks alternate
    assert calls == (["rest"] + ["minigen"] * 3 + ["rest"] + ["torch"] * 3) * 2


def test_the_figure_is_the_median_over_every_round(monkeypatch):
    clock = iter([0.0, 1.0, 0.0, 3.0,  0.0, 10.0, 0.0, 30.0,     # round 1: minigen 1, 3; torch 10, 30
                  0.0, 2.0, 0.0, 9.0,  0.0, 20.0, 0.0, 20.0])    # round 2: minigen 2, 9; torch 20, 20
    monkeypatch.setattr(bench.runner.time, "sleep", lambda s: None)
    monkeypatch.setattr(bench.timing.time, "perf_counter", lambda: next(clock))
    case = bench.Case(lambda: None, lambda: None, None)
    assert bench.time_case(case, "cpu", repeats=2, warmup=0, rounds=2) == (2.5, 20.0)
    with pytest.raises(ValueError, match="rounds"):
        bench.time_case(case, "cpu", rounds=0)


def test_registry_and_unknown_workload():
    assert {"W1", "W2", "W3", "W4", "W5", "W6"} <= set(bench.WORKLOADS)
    with pytest.raises(KeyError, match="unknown workload 'W9'"):
        bench.run(workloads=["W9"], repeats=1, warmup=0, settle=0, matmul_n=64, print_fn=None)


def test_timed_waits_for_queued_work_before_starting_and_before_stopping_the_clock(monkeypatch):
    """The clock must not count work queued earlier, and must count this call's queued work: sync, start, run,
    sync, stop, in that order (on a GPU, calls return before their work is done)."""
    events, ticks = [], iter([10.0, 12.5])

    def clock():
        events.append("clock")
        return next(ticks)

    monkeypatch.setattr(bench.timing, "synchronize", lambda device: events.append(f"sync {device}"))
    monkeypatch.setattr(bench.timing.time, "perf_counter", clock)
    seconds = bench.timing.timed(lambda: events.append("work"), "cuda")
    assert events == ["sync cuda", "clock", "work", "sync cuda", "clock"]
    assert seconds == 2.5
