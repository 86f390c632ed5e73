"""Our variant pipeline against naive Pillow and pyvips, on a 12 MP photo-like JPEG.

Each contender turns the same 4000x3000 JPEG into the same variant set (widths 1600, 800 and 200,
each as WebP and JPEG, with the same quality and encoder effort), one image at a time on one core:

1. ours: media.variants.render (draft decode, a resize chain, upright, sRGB, no metadata);
2. naive Pillow: decode in full, resize every width from the full original with LANCZOS, save;
3. pyvips: `thumbnail` per width (shrink-on-load), then both saves from one in-memory copy,
   with libvips held to one thread and its operation cache off (or it would skip repeats).

Reported: median ms per image (the median round of three), the ratios, output bytes, PSNR of
each output against an exact resize of the full original (so speed is not bought with quality),
and the peak RSS of a worker process rendering the image. Results go to bench/results/ as JSON
and Markdown. Run: `uv run python -m bench.media [--images N] [--webp-method M]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("VIPS_CONCURRENCY", "1")  # read when libvips starts: before the import

import PIL
import pyvips
from PIL import Image, ImageChops, ImageStat

from media import testing
from media.imaging_pool import ImagingPool
from media.variants import OUTPUT_FORMATS, VariantSpec, plan_sizes, render

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (4000, 3000)
Render = Callable[[Path, Path, VariantSpec], None]


def ours(source: Path, out_dir: Path, spec: VariantSpec) -> None:
    render(source, out_dir, spec)


def naive(source: Path, out_dir: Path, spec: VariantSpec) -> None:
    with Image.open(source) as original:
        original.load()
        for size in plan_sizes(original.size, spec.widths):
            resized = original.resize(size, Image.Resampling.LANCZOS)
            resized.save(out_dir / f"{size[0]}w.webp", "WEBP", **pillow_webp(spec))
            resized.save(out_dir / f"{size[0]}w.jpg", "JPEG", **pillow_jpeg(spec))


def vips(source: Path, out_dir: Path, spec: VariantSpec) -> None:
    for width in sorted(spec.widths, reverse=True):
        # height: width alone decides; size "down": never upscale, like the others.
        thumb = pyvips.Image.thumbnail(str(source), width, height=10_000_000, size="down")
        thumb = thumb.copy_memory()  # both saves from one decode, as the others do
        thumb.webpsave(
            str(out_dir / f"{width}w.webp"),
            Q=spec.webp_quality,
            effort=spec.webp_method,
            keep="none",
        )
        thumb.jpegsave(
            str(out_dir / f"{width}w.jpg"),
            Q=spec.jpeg_quality,
            optimize_coding=spec.jpeg_optimize,
            interlace=spec.jpeg_progressive,
            keep="none",
        )


def pillow_webp(spec: VariantSpec) -> dict[str, object]:
    return {"quality": spec.webp_quality, "method": spec.webp_method}


def pillow_jpeg(spec: VariantSpec) -> dict[str, object]:
    return {
        "quality": spec.jpeg_quality,
        "optimize": spec.jpeg_optimize,
        "progressive": spec.jpeg_progressive,
    }


CONTENDERS: dict[str, Render] = {"ours": ours, "naive Pillow": naive, "pyvips": vips}


@dataclass
class Measure:
    contender: str
    wall_ms: float
    """Median ms per image, wall clock: what a waiting user sees on an idle core."""
    cpu_ms: float
    """Median CPU ms per image (all threads of the process): the cost on one core, which
    other tenants of a shared machine disturb far less than the wall clock."""
    output_bytes: int
    psnr_db: dict[str, float]
    peak_rss_mb: float


def time_round(source: Path, spec: VariantSpec, images: int) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) per contender over `images` renders, after one warm-up each.

    The contenders take turns image by image, so a burst of load elsewhere on this shared
    machine lands on all of them rather than on whichever happened to be running.
    """
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(images + 1):
            for name, fn in CONTENDERS.items():
                out = Path(scratch) / f"{name}-{i}"
                out.mkdir()
                wall, cpu = time.perf_counter(), time.process_time()
                fn(source, out, spec)
                if i:
                    samples[name].append(
                        ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
                    )
                shutil.rmtree(out)
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in samples.items()
    }


def psnr(reference: Image.Image, path: Path) -> float:
    with Image.open(path) as output:
        diff = ImageChops.difference(reference, output.convert("RGB"))
    mse = statistics.mean(rms**2 for rms in ImageStat.Stat(diff).rms)
    return 20 * math.log10(255 / math.sqrt(mse)) if mse else math.inf


def quality(fn: Render, source: Path, spec: VariantSpec) -> tuple[int, dict[str, float]]:
    """Bytes written, and PSNR of each file against an exact LANCZOS resize of the original."""
    with Image.open(source) as original, tempfile.TemporaryDirectory() as scratch:
        original.load()
        out = Path(scratch)
        fn(source, out, spec)
        scores: dict[str, float] = {}
        for size in plan_sizes(original.size, spec.widths):
            reference = original.resize(size, Image.Resampling.LANCZOS)
            for output in (OUTPUT_FORMATS[f] for f in spec.formats):
                name = f"{size[0]}w.{output.extension}"
                scores[name] = round(psnr(reference, out / name), 2)
        return sum(p.stat().st_size for p in out.iterdir()), scores


def _peak_rss_child(
    name: str | None, source: str, spec: VariantSpec, queue: multiprocessing.Queue[int]
) -> None:
    if name is not None:
        with tempfile.TemporaryDirectory() as scratch:
            CONTENDERS[name](Path(source), Path(scratch), spec)
    status = Path("/proc/self/status").read_text().splitlines()
    queue.put(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))


def peak_rss_mb(name: str | None, source: Path, spec: VariantSpec) -> float:
    """Peak RSS of a fresh process (spawned, like an ImagingPool worker) rendering one image.

    Without a contender: what the process holds with Python, Pillow and pyvips loaded.
    """
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[int] = context.Queue()
    process = context.Process(target=_peak_rss_child, args=(name, str(source), spec, queue))
    process.start()
    peak_kb = queue.get(timeout=120)
    process.join()
    return peak_kb / 1024


Rounds = list[dict[str, tuple[float, float]]]


def ratios(runs: Rounds, unit: int) -> tuple[float, float]:
    """Median over rounds of (naive/ours, ours/pyvips); unit 0 is wall, 1 is CPU.

    Each ratio is taken within a round, where the contenders shared the same machine load.
    """
    speedups = [run["naive Pillow"][unit] / run["ours"][unit] for run in runs]
    costs = [run["ours"][unit] / run["pyvips"][unit] for run in runs]
    return statistics.median(speedups), statistics.median(costs)


async def worker_rss_mb(source: Path, spec: VariantSpec) -> tuple[float, float]:
    """VmHWM of a real ImagingPool worker: after a tiny job, then after rendering `source`."""

    def vm_hwm_mb(pid: int) -> float:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

    async with ImagingPool(workers=1) as pool:
        with tempfile.TemporaryDirectory() as scratch:
            tiny = Path(scratch) / "tiny.png"
            Image.new("RGB", (8, 8)).save(tiny)
            await pool.identify(tiny)
            [pid] = pool.worker_pids()
            idle = vm_hwm_mb(pid)
            await pool.render(source, Path(scratch), spec)
            return idle, vm_hwm_mb(pid)


def report(measures: list[Measure], runs: Rounds, meta: dict[str, object]) -> str:
    by = {m.contender: m for m in measures}
    names = list(by["ours"].psnr_db)
    lines = [
        f"# Media variants benchmark, {meta['when']}",
        "",
        f"Machine: {meta['machine']}; {meta['cpus']} CPUs (shared); Python {meta['python']}; "
        f"Pillow {meta['pillow']}; libvips {meta['libvips']}. Source: {meta['source']}. "
        f"Variant set: {meta['spec']}. One image at a time on one thread; each row is the median "
        f"round of {meta['rounds']}, each round the median of {meta['images']} images, the "
        "contenders taking turns image by image.",
        "",
        "| contender | wall ms per image | CPU ms per image | output bytes | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in measures:
        lines.append(
            f"| {m.contender} | {m.wall_ms:,.0f} | {m.cpu_ms:,.0f} | {m.output_bytes:,} | "
            f"{m.peak_rss_mb:,.0f} |"
        )
    wall_speedup, wall_vips = ratios(runs, 0)
    cpu_speedup, cpu_vips = ratios(runs, 1)
    lines += [
        "",
        "Peak RSS: a fresh spawned process (as an ImagingPool worker is) rendering the image "
        "once; one with Python, Pillow and pyvips loaded and no image holds "
        f"{meta['idle_rss_mb']:.0f} MB. A real ImagingPool worker (forkserver, Pillow preloaded) "
        f"peaks at {meta['worker_peak_rss_mb']:.0f} MB rendering this image, from "
        f"{meta['worker_idle_rss_mb']:.0f} MB after a tiny job.",
        "",
        "Ratios are taken within each round (same machine load for all three), median of the "
        "rounds.",
        "",
        "| target | wall | CPU | verdict (CPU) |",
        "|---|---:|---:|---|",
        f"| ours at least 2x faster than naive Pillow | {wall_speedup:.2f}x | {cpu_speedup:.2f}x | "
        f"{'pass' if cpu_speedup >= 2 else 'FAIL'} |",
        f"| ours within 1.3x of pyvips (ours/pyvips) | {wall_vips:.2f}x | {cpu_vips:.2f}x | "
        f"{'pass' if cpu_vips <= 1.3 else 'FAIL'} |",
        "",
        "PSNR (dB) of each output against an exact LANCZOS resize of the fully decoded original:",
        "",
        "| contender | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for m in measures:
        lines.append(
            f"| {m.contender} | " + " | ".join(f"{m.psnr_db[n]:.2f}" for n in names) + " |"
        )
    return "\n".join(lines) + "\n"


def main(images: int, rounds: int, spec: VariantSpec) -> int:
    pyvips.cache_set_max(0)
    pyvips.concurrency_set(1)
    with tempfile.TemporaryDirectory() as scratch:
        source = testing.write_jpeg(Path(scratch) / "photo.jpg", SIZE, orientation=1, gps=True)
        source_mb = source.stat().st_size / 1e6
        runs = [time_round(source, spec, images) for _ in range(rounds)]
        measures = []
        for name, fn in CONTENDERS.items():
            output_bytes, scores = quality(fn, source, spec)
            measures.append(
                Measure(
                    name,
                    statistics.median(run[name][0] for run in runs),
                    statistics.median(run[name][1] for run in runs),
                    output_bytes,
                    scores,
                    peak_rss_mb(name, source, spec),
                )
            )
        idle = peak_rss_mb(None, source, spec)
        worker_idle, worker_peak = asyncio.run(worker_rss_mb(source, spec))
    meta: dict[str, object] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "source": f"{SIZE[0]}x{SIZE[1]} photo-like JPEG, quality 90, {source_mb:.1f} MB",
        "spec": (
            f"widths {list(spec.widths)} x WebP (quality {spec.webp_quality}, method "
            f"{spec.webp_method}) and JPEG (quality {spec.jpeg_quality}, optimize "
            f"{spec.jpeg_optimize}, progressive {spec.jpeg_progressive})"
        ),
        "images": images,
        "rounds": rounds,
        "idle_rss_mb": idle,
        "worker_idle_rss_mb": worker_idle,
        "worker_peak_rss_mb": worker_peak,
        "rounds_ms": runs,
    }
    text = report(measures, runs, meta)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    payload = {"meta": meta, "spec": asdict(spec), "results": [asdict(m) for m in measures]}
    (RESULTS / f"media-{stamp}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / "media-latest.md").write_text(text)
    print(text)
    speedup, vs_vips = ratios(runs, 1)
    return 0 if speedup >= 2 and vs_vips <= 1.3 else 1


if __name__ == "__main__":
    defaults = VariantSpec()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=5, help="timed images per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--webp-method", type=int, default=defaults.webp_method)
    parser.add_argument("--webp-quality", type=int, default=defaults.webp_quality)
    parser.add_argument("--jpeg-quality", type=int, default=defaults.jpeg_quality)
    args = parser.parse_args()
    chosen = VariantSpec(
        webp_method=args.webp_method,
        webp_quality=args.webp_quality,
        jpeg_quality=args.jpeg_quality,
    )
    raise SystemExit(main(args.images, args.rounds, chosen))
