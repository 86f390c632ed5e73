"""The process pool: work off the event loop, typed errors across processes, crash recovery."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from events.testing import wait_for
from media import testing
from media.imaging import CorruptImage, TooManyPixels, UnsupportedMediaType, identify
from media.imaging_pool import ImagingPool, ImagingSettings, WorkerCrashed
from media.variants import DEFAULT_SPEC, VariantSpec, render


@pytest.fixture
async def pool() -> AsyncIterator[ImagingPool]:
    async with ImagingPool(workers=1) as one_worker:
        yield one_worker


def proc_status(pid: int, field: str) -> int:
    """A memory figure of a live process, in kB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


@contextmanager
def killed_if_stuck(pool: ImagingPool) -> Iterator[None]:
    """A test that fails while a worker is held on a FIFO must not hang the pool's close()."""
    try:
        yield
    except BaseException:
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        raise


async def drain(fifo: Path, timeout: float) -> bytes:
    """Read a FIFO until its writer closes it; a writer that never comes fails the test."""
    reading = asyncio.ensure_future(asyncio.to_thread(fifo.read_bytes))
    done, _ = await asyncio.wait({reading}, timeout=timeout)
    if not done:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # be the writer: the read ends
        await reading
        raise AssertionError(f"no worker opened {fifo.name} for writing in {timeout}s")
    return reading.result()


async def test_identify_and_render_give_what_a_direct_call_gives(
    pool: ImagingPool, alpha_png: Path, out_dir: Path, tmp_path: Path
) -> None:
    assert await pool.identify(alpha_png) == identify(alpha_png)
    spec = VariantSpec(widths=(400, 100))
    direct_dir = tmp_path / "direct"
    direct_dir.mkdir()
    pooled = await pool.render(alpha_png, out_dir, spec)
    direct = render(alpha_png, direct_dir, spec)
    assert [(v.name, v.width, v.height) for v in pooled] == [
        (v.name, v.width, v.height) for v in direct
    ]
    assert all(v.path.parent == out_dir for v in pooled)
    assert [p.path.read_bytes() for p in pooled] == [d.path.read_bytes() for d in direct]


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("text named .jpg", UnsupportedMediaType),
        ("svg", UnsupportedMediaType),
        ("truncated jpeg", CorruptImage),
        ("png bomb", TooManyPixels),
    ],
)
async def test_typed_errors_come_back_across_the_process_boundary(
    pool: ImagingPool, tmp_path: Path, out_dir: Path, case: str, error: type[Exception]
) -> None:
    path, _ = testing.refused_uploads(tmp_path)[case]
    with pytest.raises(error):
        await pool.identify(path)
    with pytest.raises(error):
        await pool.render(path, out_dir, DEFAULT_SPEC)
    assert names(out_dir) == set()


async def test_a_bomb_is_refused_without_allocating_its_canvas(tmp_path: Path) -> None:
    bomb = testing.write_png_bomb(tmp_path / "bomb.png", 100_000, 100_000)  # 10 G pixels
    small = tmp_path / "small.png"
    testing.photo((64, 48)).save(small)
    async with ImagingPool(workers=1) as pool:
        await pool.identify(small)  # the worker is up, with Pillow loaded
        [pid] = pool.worker_pids()
        before = proc_status(pid, "VmPeak")
        with pytest.raises(TooManyPixels):
            await pool.identify(bomb)
        # VmPeak counts reserved address space, touched or not: a 10 GB canvas would show.
        assert proc_status(pid, "VmPeak") - before < 64 * 1024


async def test_the_work_runs_in_another_process_and_a_killed_worker_is_retryable(
    pool: ImagingPool, camera_jpeg: Path, out_dir: Path
) -> None:
    # The fifth variant's name is taken by a FIFO: opening it for writing blocks until a reader
    # comes, so the worker is held mid-job after writing four files, with no timing guess.
    os.mkfifo(out_dir / "200w.webp")
    job = asyncio.create_task(pool.render(camera_jpeg, out_dir, DEFAULT_SPEC))
    written = {"1600w.webp", "1600w.jpg", "800w.webp", "800w.jpg"}
    with killed_if_stuck(pool):
        await wait_for(
            lambda: written <= names(out_dir), timeout=60, message="the worker writing 4 variants"
        )
    [pid] = pool.worker_pids()
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(WorkerCrashed) as crashed:
        await job
    assert crashed.value.retryable and crashed.value.status == 503
    assert names(out_dir) == {"200w.webp"}  # what it wrote is gone; what was there stays

    (out_dir / "200w.webp").unlink()
    info = await pool.identify(camera_jpeg)  # a new worker took over
    assert info.width == 3000
    assert pool.worker_pids() != [pid]
    assert len(await pool.render(camera_jpeg, out_dir, VariantSpec(widths=(200,)))) == 2


async def test_a_worker_that_died_while_idle_costs_the_next_job_nothing(
    pool: ImagingPool, alpha_png: Path
) -> None:
    await pool.identify(alpha_png)
    [pid] = pool.worker_pids()
    broken = pool._executor
    os.kill(pid, signal.SIGKILL)
    # The executor notices the death on its own thread; its flag is the only sign of it.
    await wait_for(lambda: bool(broken._broken), timeout=30, message="the pool noticing")
    assert (await pool.identify(alpha_png)).format == "PNG"
    assert pool.worker_pids() not in ([], [pid])


async def test_a_cancelled_render_cleans_up_once_the_worker_is_done(
    pool: ImagingPool, alpha_png: Path, out_dir: Path
) -> None:
    fifo = out_dir / "200w.webp"
    os.mkfifo(fifo)
    job = asyncio.create_task(pool.render(alpha_png, out_dir, DEFAULT_SPEC))
    with killed_if_stuck(pool):
        await wait_for(lambda: {"800w.webp", "800w.jpg"} <= names(out_dir), timeout=30)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        assert "800w.webp" in names(out_dir)  # the worker is still on the job: nothing removed
        # Let the worker finish: read what it writes into the FIFO until it closes it.
        assert (await drain(fifo, timeout=30)).startswith(b"RIFF")
    await wait_for(
        lambda: names(out_dir) == {"200w.webp"},
        timeout=30,
        message=lambda: f"cleanup after the abandoned job; left: {sorted(names(out_dir))}",
    )


async def test_a_closed_pool_refuses_work(alpha_png: Path) -> None:
    pool = ImagingPool(workers=1, start_method="spawn")
    assert (await pool.identify(alpha_png)).format == "PNG"
    await pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        await pool.identify(alpha_png)


async def test_settings_build_the_pool_and_the_spec() -> None:
    settings = ImagingSettings(workers=3, max_pixels=1000, widths=(640, 320), webp_method=5)
    assert settings.spec() == VariantSpec(widths=(640, 320), webp_method=5)
    async with ImagingPool.from_settings(settings) as configured, ImagingPool() as default:
        assert (configured.workers, configured.max_pixels) == (3, 1000)
        assert default.workers == len(os.sched_getaffinity(0))
