"""Smoke test of the benchmark package (`python -m bench`, not run by the test suite): its
measuring functions run on tiny inputs and the numbers they report are the ones they measured."""

from __future__ import annotations

import math

from bench import fit, scaling
from bench.__main__ import fit_section, scaling_section
from bench.laws import FORMS, synthetic_groups
from bench.reference import reference_fit


def test_fit_timing_on_a_tiny_case_measures_all_three_methods():
    case = fit.form_case(FORMS[0], n_groups=2, rows=12)
    timing = fit.measure(case, repeats=1)
    assert set(timing.seconds) == set(fit.METHODS) and all(s > 0 for s in timing.seconds.values())
    assert timing.n_params == 3 and case.rows == 24
    assert timing.r2["ours"] > 0.99 and timing.as_good("bfgs") and timing.as_good("bfgs+restarts")
    assert timing.speedup("bfgs") == timing.seconds["bfgs"] / timing.seconds["ours"]
    row = fit_section([timing], repeats=1).splitlines()[-1]
    assert row.startswith(f"| {case.name} | 2 | 24 | 3 |")


def test_reference_restarts_never_end_worse_than_the_all_ones_start():
    law = FORMS[1].law()
    groups = synthetic_groups(FORMS[1], n_groups=2, rows=15, seed=3)
    plain = reference_fit(law, groups)
    restarted = reference_fit(law, groups, restarts=3)
    for name, X, y in groups:
        mse = [float(((law.predict(X, t[name])[:, 0] - y) ** 2).mean()) for t in (plain, restarted)]
        assert mse[1] <= mse[0]


def test_scaling_point_reports_time_memory_and_a_good_fit():
    point = scaling.run_point(groups=3, rows_per_group=40)
    assert point.rows == 120 and point.seconds > 0 and point.runs >= 1
    assert point.fit_peak_bytes > 0 and point.max_rss_bytes > point.fit_peak_bytes
    assert math.isfinite(point.train_r2) and point.train_r2 > 0.99
    table = scaling_section([point], [point])
    assert "| 120 | 120 |" in table and "| 3 | 120 |" in table
