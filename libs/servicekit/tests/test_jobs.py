"""The periodic job runner: runs on its interval, survives a failed run, stops for good."""

from __future__ import annotations

from events.testing import wait_for
from servicekit.jobs import JobRunner


async def test_a_failed_run_is_retried_at_the_next_interval_and_stop_is_final() -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise ConnectionError("database restarting")

    runner = JobRunner([("flaky", flaky, 0.01)])
    await runner.start()
    await wait_for(lambda: len(runs) >= 3, timeout=5, message="three runs")
    await runner.stop()
    assert runner.runs["flaky"] == len(runs) - 1, "the failed run is not counted as done"
    stopped_at = len(runs)
    second = JobRunner([("probe", flaky, 0.01)])
    await second.start()
    await wait_for(lambda: second.runs["probe"] >= 1, timeout=5, message="a run of a new runner")
    await second.stop()
    assert runner.runs["flaky"] == stopped_at - 1, "the stopped runner ran no more"
