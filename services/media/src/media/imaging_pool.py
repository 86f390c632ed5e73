"""Decoding and resizing in worker processes, so CPU-bound imaging never runs on the event loop."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from PIL import Image, ImageFile
from pydantic import BaseModel, Field

from media.imaging import DEFAULT_MAX_PIXELS, ImageInfo, ImagingError, identify
from media.variants import DEFAULT_SPEC, RenderedVariant, VariantSpec, is_variant_name, render

T = TypeVar("T")
StartMethod = Literal["forkserver", "spawn"]


class WorkerCrashed(ImagingError):
    """A worker process died mid-job (killed, out of memory, a crash in a codec): try again."""

    status = 503
    slug = "imaging-unavailable"
    retryable = True


class ImagingSettings(BaseModel):
    """Nested in the media service's settings (MEDIA_IMAGING__WORKERS=...)."""

    workers: int | None = Field(default=None, ge=1, description="Default: the usable cores.")
    start_method: StartMethod = "forkserver"
    max_tasks_per_child: int | None = Field(default=None, ge=1)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1)
    widths: tuple[int, ...] = DEFAULT_SPEC.widths
    formats: tuple[Literal["webp", "jpeg"], ...] = ("webp", "jpeg")
    webp_quality: int = Field(default=DEFAULT_SPEC.webp_quality, ge=1, le=100)
    webp_method: int = Field(default=DEFAULT_SPEC.webp_method, ge=0, le=6)
    jpeg_quality: int = Field(default=DEFAULT_SPEC.jpeg_quality, ge=1, le=95)
    jpeg_optimize: bool = DEFAULT_SPEC.jpeg_optimize
    jpeg_progressive: bool = DEFAULT_SPEC.jpeg_progressive

    def spec(self) -> VariantSpec:
        return VariantSpec(
            widths=self.widths,
            formats=self.formats,
            webp_quality=self.webp_quality,
            webp_method=self.webp_method,
            jpeg_quality=self.jpeg_quality,
            jpeg_optimize=self.jpeg_optimize,
            jpeg_progressive=self.jpeg_progressive,
        )


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _init_worker(max_pixels: int) -> None:
    """Runs once in each worker, before any job."""
    # Ctrl-C reaches the whole process group: the parent decides when workers stop, so a
    # terminal interrupt does not break the pool under jobs that are finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # Pillow warns above this and refuses above twice this; open_image turns the warning into
    # TooManyPixels, so Pillow's check and the settings' cap agree in the worker.
    Image.MAX_IMAGE_PIXELS = max_pixels


class ImagingPool:
    """A process pool for identify() and render(); the same typed errors as calling them here."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        start_method: StartMethod = "forkserver",
        max_tasks_per_child: int | None = None,
    ) -> None:
        self.workers = workers or usable_cores()
        self.max_pixels = max_pixels
        # Never fork: the parent is an asyncio program with threads (aio-pika, the default
        # executor), and a forked child inherits their locks in whatever state they were.
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            self._context.set_forkserver_preload(["media.variants"])  # Pillow loaded once
        self._max_tasks_per_child = max_tasks_per_child
        self._executor = self._new_executor()
        self._replacing = asyncio.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: ImagingSettings) -> Self:
        return cls(
            settings.workers,
            max_pixels=settings.max_pixels,
            start_method=settings.start_method,
            max_tasks_per_child=settings.max_tasks_per_child,
        )

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.max_pixels,),
            max_tasks_per_child=self._max_tasks_per_child,
        )

    async def identify(self, path: Path) -> ImageInfo:
        """Validate an upload by its content (see media.imaging.identify)."""
        return await self._run(None, identify, path, self.max_pixels)

    async def render(self, source: Path, out_dir: Path, spec: VariantSpec) -> list[RenderedVariant]:
        """Write the variants into `out_dir`; on any failure nothing new is left in it."""
        existing = set(os.listdir(out_dir))

        def remove_new() -> None:
            # A worker killed mid-job cannot clean up after itself; the names it may have
            # written are known, and whatever was there before the job is left alone.
            for name in os.listdir(out_dir):
                if name not in existing and is_variant_name(name):
                    (out_dir / name).unlink(missing_ok=True)

        return await self._run(remove_new, render, source, out_dir, spec, self.max_pixels)

    def worker_pids(self) -> list[int]:
        """The current workers' process ids (workers start on the first job)."""
        return list(self._executor._processes or {})

    async def _run(self, cleanup: Callable[[], None] | None, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the imaging pool is closed")
        executor = self._executor
        future: Future[T] | None = None
        try:
            try:
                future = executor.submit(fn, *args)
            except BrokenProcessPool:
                # A worker died while the pool was idle: nothing of this job ran yet.
                await self._replace(executor)
                executor = self._executor
                future = executor.submit(fn, *args)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            # Every job in flight fails with it, not only the one that crashed its worker.
            await self._replace(executor)
            if cleanup is not None:
                cleanup()
            raise WorkerCrashed(
                "The image worker stopped while working on this image; try again."
            ) from exc
        except BaseException:
            if cleanup is not None:
                if future is None or future.done():
                    cleanup()
                else:
                    # Cancelled while the worker runs it: clean up once it has really stopped.
                    future.add_done_callback(lambda _: cleanup())
            raise

    async def _replace(self, broken: ProcessPoolExecutor) -> None:
        async with self._replacing:
            if self._executor is broken and not self._closed:
                self._executor = self._new_executor()
        # Joins what is left of the broken pool: no old worker is still writing afterwards.
        await asyncio.to_thread(broken.shutdown, wait=True, cancel_futures=True)

    async def close(self) -> None:
        """Let running jobs finish, drop queued ones, and stop the workers."""
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
