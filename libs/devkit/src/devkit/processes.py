"""Service processes: the same entry points the images run, on free ports, logs captured."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from events.testing import wait_for


class ProcessFailed(AssertionError):
    """A service process died or never became ready; the message carries its log tail."""


@dataclass
class ServiceProcess:
    """One `python -m <service> <role>` process."""

    service: str
    role: str
    env: dict[str, str]
    port: int | None
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"{self.service}-{self.role}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def run_to_completion(self, timeout: float = 120) -> None:
        """For one-shot roles (`migrate`): run, wait, fail loudly with the log on error."""
        await self.start()
        assert self.process is not None
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.stop()
            raise ProcessFailed(
                f"{self.name} did not finish in {timeout}s\n{self.tail()}"
            ) from None
        self._close_log()
        if code != 0:
            raise ProcessFailed(f"{self.name} exited with {code}\n{self.tail()}")

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.service,
            self.role,
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C is not theirs: they are stopped in order
        )

    async def wait_ready(self, timeout: float = 60) -> None:
        async with httpx.AsyncClient(timeout=2) as client:

            async def ready() -> bool:
                if self.process is not None and self.process.returncode is not None:
                    raise ProcessFailed(
                        f"{self.name} exited with {self.process.returncode} before it was "
                        f"ready\n{self.tail()}"
                    )
                try:
                    return (await client.get(f"{self.url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            try:
                await wait_for(ready, timeout=timeout, interval=0.2)
            except AssertionError:
                raise ProcessFailed(f"{self.name} not ready in {timeout}s\n{self.tail()}") from None

    async def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost host would: nothing runs after it."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self._close_log()

    async def stop(self, timeout: float = 20) -> None:
        """SIGTERM (what a container runtime sends), then SIGKILL if it will not go."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return f"(no log at {self.log_path})"
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last {len(text)} lines of {self.log_path} ---\n" + "\n".join(text)

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (non-JSON lines are skipped)."""
        records = []
        if self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        records.append(record)
        return records
