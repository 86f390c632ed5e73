"""A real Prometheus (Debian's `prometheus` binary) scraping every process of a local run, with
the repository's alert rules loaded and short intervals, so an alert can be seen firing.

Scrape and evaluation intervals are seconds, not the production minute: the e2e suite waits for
an alert through Prometheus's own HTTP API (`/api/v1/alerts`), not for a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit import providers
from devkit.servers import free_port, port_open

RULES = providers.ROOT / "monitoring" / "alerts.yml"
DEV_PORT = 9090


class PrometheusMissing(RuntimeError):
    """The prometheus binary is not installed (scripts/prometheus.sh installs it)."""


@dataclass(frozen=True)
class Target:
    service: str
    role: str
    address: str
    """host:port of the process's ops app (its /metrics)."""


@dataclass
class PrometheusServer:
    targets: list[Target]
    data_dir: Path
    port: int = 0
    interval_s: float = 1.0
    rules: Path = RULES
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @staticmethod
    def available() -> bool:
        return shutil.which("prometheus") is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        interval = f"{int(self.interval_s * 1000)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(self.rules)],
            "scrape_configs": [
                {
                    "job_name": f"{t.service}-{t.role}",
                    "scrape_timeout": interval,
                    "static_configs": [
                        {"targets": [t.address], "labels": {"service": t.service, "role": t.role}}
                    ],
                }
                for t in self.targets
            ],
        }

    async def start(self, timeout: float = 30) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusMissing(
                "prometheus is not installed: run `bash scripts/prometheus.sh` (Debian's "
                "prometheus package) or put a Prometheus 2.x binary on PATH"
            )
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(json.dumps(self.config(), indent=2))  # JSON is YAML
        self._spawn(binary, config)
        deadline = asyncio.get_running_loop().time() + timeout
        while not await asyncio.to_thread(self._ready):
            if (
                self.process is None
                or self.process.poll() is not None
                or asyncio.get_running_loop().time() > deadline
            ):
                tail = (self.data_dir / "prometheus.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"Prometheus did not become ready:\n{tail}")
            await asyncio.sleep(0.2)

    def _spawn(self, binary: str, config: Path) -> None:
        log = (self.data_dir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _ready(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def api(self, path: str) -> Any:
        """GET a Prometheus HTTP API path (`/api/v1/alerts`), its `data`."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:  # noqa: S310
            body = json.loads(answer.read())
        return body["data"]

    async def alerts(self) -> list[dict[str, Any]]:
        """The alerts Prometheus holds now (pending or firing), with labels and state."""
        data = await asyncio.to_thread(self.api, "/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts

    async def firing(self, alertname: str, **labels: str) -> bool:
        with contextlib.suppress(OSError):
            return any(
                a["state"] == "firing"
                and a["labels"].get("alertname") == alertname
                and all(a["labels"].get(k) == v for k, v in labels.items())
                for a in await self.alerts()
            )
        return False
