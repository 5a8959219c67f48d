"""The compiled kernels' shared conventions: work split in fixed chunks."""

from __future__ import annotations

import numpy as np
import pytest


def test_outputs_do_not_depend_on_the_number_of_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel kernels split work in fixed chunks: one thread or two give bit-identical runs.

    beijing-2020 at 30,000 citizens for 60 days, with every event ten times as frequent, so that
    each kernel sees several chunks a day.
    """
    import numba

    import scslab
    import scslab.engine as engine

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one processor: nothing to compare")
    sc = scslab.load_scenario("beijing-2020")
    rates = {f"events.{name}.rate": e.rate * 10 for name, e in sc.params.events.items()}
    sc = sc.with_overrides({"population.size": 30_000, "days": 60, **rates})
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(engine, "threads_for", lambda n, t=threads: t)
        results.append(scslab.simulate(sc, seed=4))
    one, two = results
    assert one.timeseries.equals(two.timeseries)
    assert np.array_equal(one.state.ledgers, two.state.ledgers) and np.array_equal(one.state.risk, two.state.risk)
    assert one.timeseries["events_jaywalking"].sum() > 60 * 4096 // 10  # chunks were split
