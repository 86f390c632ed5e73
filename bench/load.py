"""Registration and login under load: a hundred people at once, against the whole platform.

The platform runs as it would for a person (`devkit.platform`: every service's api and worker as
its own process, the real RabbitMQ, PostgreSQL and Redis, an SMTP catcher, retries at full
scale), with auth at production password hashing. The load comes from this process:

1. 100 concurrent registrations (distinct emails, each from its own client network, as through
   the proxy in front of auth) — latency of each answer, and the time until the last of the 200
   emails they cause (a welcome and a verification link each) is in the catcher;
2. every account verified through its link (not timed);
3. 100 concurrent logins of those accounts.

Each phase reports answers by status, p50/p95/p99, throughput, and the CPU seconds each process
spent (the services' processes, and PostgreSQL, RabbitMQ and Redis as a whole: those are shared
with anything else running on the machine, so the load average is recorded too). The same run
is repeated for each profile: `current` (the settings auth ships with) and `previous` (argon2id
t=3, m=64 MiB, p=4 with four hashes at once, the settings before OWASP's set).

Run: `just bench load [--profiles current,previous] [--people 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from auth.config import Settings as AuthSettings
from bench.common import machine, percentile, save
from devkit import providers
from devkit.platform import Platform
from events.testing import wait_for

PASSWORD = "correct horse battery staple"  # a benchmark account, not a secret
LINK = re.compile(r"http://app\.portfolio\.test/verify\?token=[A-Za-z0-9_%\-]+")
LOGS = Path(__file__).resolve().parent / "results" / "logs"
TICKS = os.sysconf("SC_CLK_TCK")
RETRIES = 10
"""Resends of a request answered 503 overloaded, each after its Retry-After."""
INFRA = {"postgres": "postgres", "rabbitmq": "beam.smp", "redis": "redis-server"}


def _defaults(*names: str) -> dict[str, str]:
    return {n.upper(): str(AuthSettings.model_fields[n].default) for n in names}


PROFILES: dict[str, dict[str, str]] = {
    "current": _defaults("argon2_time_cost", "argon2_memory_cost_kib", "argon2_parallelism"),
    "previous": {
        "ARGON2_TIME_COST": "3",
        "ARGON2_MEMORY_COST_KIB": "65536",
        "ARGON2_PARALLELISM": "4",
        "HASH_WORKERS": "4",
    },
}


# --- CPU time from /proc ------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return command, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _all() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat
    return found


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service process (with its children: media's image pool) and
    of each infrastructure server (all its processes)."""
    table = _all()
    children: dict[int, list[int]] = {}
    for pid, (_, parent, _) in table.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        own = table[pid][2] if pid in table else 0.0
        return own + sum(tree(c) for c in children.get(pid, []))

    totals = {name: tree(pid) for name, pid in roots.items()}
    for name, command in INFRA.items():
        totals[name] = sum(s for c, _, s in table.values() if c == command)
    return totals


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before.get(k, 0.0), 2) for k in after}


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    first_ms: list[float] = field(default_factory=list)
    first_statuses: dict[int, int] = field(default_factory=dict)
    admitted_ms: list[float] = field(default_factory=list)
    """First answers that were not a 503: how long an admitted request took."""
    retries: int = 0
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "statuses": self.statuses,
            "p50_ms": round(percentile(self.latencies_ms, 50), 1),
            "p95_ms": round(percentile(self.latencies_ms, 95), 1),
            "p99_ms": round(percentile(self.latencies_ms, 99), 1),
            "max_ms": round(max(self.latencies_ms), 1),
            "throughput_per_s": round(len(self.latencies_ms) / self.wall_s, 1),
            "first_answers": self.first_statuses,
            "first_answer_p99_ms": round(percentile(self.first_ms, 99), 1),
            "admitted_p99_ms": round(percentile(self.admitted_ms, 99), 1),
            "retries_after_503": self.retries,
            "cpu_s": self.cpu_s,
            **self.extra,
        }


def client_address(n: int) -> str:
    """A client network of person n's own (the benchmarking range, RFC 2544)."""
    return f"198.18.{n >> 8}.{n & 255}"


async def burst(
    client: httpx.AsyncClient, phase: Phase, requests: list[tuple[str, dict[str, Any], str]]
) -> list[httpx.Response]:
    """Every request at once; each one's latency from the common start to its final answer,
    waits after a 503 included (its first answer's latency is kept apart)."""
    gate = asyncio.Event()

    async def one(path: str, body: dict[str, Any], address: str) -> httpx.Response:
        await gate.wait()
        started = time.perf_counter()
        answer = await client.post(path, json=body, headers={"X-Forwarded-For": address})
        first = answer.status_code
        phase.first_ms.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 503:
            phase.admitted_ms.append(phase.first_ms[-1])
        phase.first_statuses[first] = phase.first_statuses.get(first, 0) + 1
        # What a well-behaved client does with 503 overloaded: wait as told, send it again.
        for _ in range(RETRIES):
            if answer.status_code != 503 or "Retry-After" not in answer.headers:
                break
            phase.retries += 1
            await asyncio.sleep(float(answer.headers["Retry-After"]))
            answer = await client.post(path, json=body, headers={"X-Forwarded-For": address})
        phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        phase.statuses[answer.status_code] = phase.statuses.get(answer.status_code, 0) + 1
        return answer

    tasks = [asyncio.create_task(one(*r)) for r in requests]
    await asyncio.sleep(0)  # every task is parked at the gate before it opens
    started = time.perf_counter()
    gate.set()
    answers = await asyncio.gather(*tasks)
    phase.wall_s = time.perf_counter() - started
    return answers


async def outbox_empty(platform: Platform) -> bool:
    """Whether auth's outbox is empty of unpublished events."""
    assert platform.run is not None
    conn = await asyncpg.connect(platform.run.databases["auth"])
    try:
        return not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    finally:
        await conn.close()


async def run_profile(profile: str, people: int, *, py_spy: bool) -> dict[str, Any]:
    platform = Platform(
        providers.choose(), retry_time_scale=1.0, env_overrides={"auth": PROFILES[profile]}
    )
    await platform.start()
    try:
        roots = {n: p.process.pid for n, p in platform.processes.items() if p.process}
        limits = httpx.Limits(max_connections=people * 2, max_keepalive_connections=people * 2)
        async with httpx.AsyncClient(
            base_url=platform.url("auth"), timeout=120, limits=limits
        ) as client:
            await warm_up(platform, client)
            return await measure(
                platform, client, roots, people, roots["auth-api"] if py_spy else None
            )
    finally:
        await platform.stop()


async def warm_up(platform: Platform, client: httpx.AsyncClient) -> None:
    """One person through the whole path first: pools connected, code paths imported."""
    email = f"warm-{uuid.uuid4().hex[:8]}@example.org"
    await register_and_verify(platform, client, [email], base=250 * 256)
    answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    # Its welcome, verification and first-login emails too, or a late one would be counted
    # among the burst's.
    await wait_for(
        lambda: sum(email in m.recipients for m in platform.smtp.messages) >= 3,
        timeout=60,
        message="the warm-up's three emails",
    )


async def register_and_verify(
    platform: Platform, client: httpx.AsyncClient, emails: list[str], base: int
) -> None:
    for n, email in enumerate(emails):
        await client.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Bench Person"},
            headers={"X-Forwarded-For": client_address(base + n)},
        )
    await verify_all(platform, client, emails)


async def verify_all(platform: Platform, client: httpx.AsyncClient, emails: list[str]) -> None:
    for email in emails:
        mail = await platform.smtp.wait_for_mail(
            email, lambda m: m.message["Subject"] == "Confirm your email address", timeout=120
        )
        match = LINK.search(mail.part("plain"))
        assert match, "no verification link"
        token = parse_qs(urlsplit(match.group(0)).query)["token"][0]
        answer = await client.post("/auth/verify", json={"token": token})
        assert answer.status_code == 200, answer.text


class Profiler:
    """`py-spy record` on auth's api process for one phase (`--py-spy`): collapsed stacks in
    bench/results/logs/, the input of the request path's profile."""

    def __init__(self, pid: int | None, name: str) -> None:
        self.pid, self.name = pid, name
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Profiler:
        if self.pid is not None:
            LOGS.mkdir(parents=True, exist_ok=True)
            self.process = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                "250",
                "--threads",
                "--format",
                "raw",
                "--output",
                str(LOGS / f"load-{self.name}.txt"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            await self.process.wait()


async def measure(
    platform: Platform,
    client: httpx.AsyncClient,
    roots: dict[str, int],
    people: int,
    profile_pid: int | None = None,
) -> dict[str, Any]:
    emails = [f"load-{uuid.uuid4().hex[:10]}@example.org" for _ in range(people)]
    mail_before = len(platform.smtp.messages)

    registration = Phase("registration")
    registrations = [
        (
            "/auth/register",
            {"email": e, "password": PASSWORD, "display_name": "Bench Person"},
            client_address(n),
        )
        for n, e in enumerate(emails)
    ]
    cpu_before = cpu_seconds(roots)
    started = time.monotonic()
    async with Profiler(profile_pid, "registration"):
        answers = await burst(client, registration, registrations)
    # Only an accepted registration owes emails, a verification and a login; a person still
    # refused after the resends is counted in the statuses and left out of what follows.
    accepted = [e for e, a in zip(emails, answers, strict=True) if a.status_code == 202]
    expected = 2 * registration.statuses.get(202, 0)
    await wait_for(
        lambda: len(platform.smtp.messages) - mail_before >= expected,
        timeout=300,
        interval=0.05,
        message=f"{expected} emails",
    )
    registration.extra["emails"] = len(platform.smtp.messages) - mail_before
    sent = Counter(
        (rcpt, str(m.message["Subject"]))
        for m in platform.smtp.messages[mail_before:]
        for rcpt in m.recipients
    )
    registration.extra["duplicate_emails"] = {
        f"{r} / {s}": n for (r, s), n in sent.items() if n > 1
    }
    registration.extra["last_email_after_s"] = round(time.monotonic() - started, 2)
    registration.cpu_s = spent(cpu_before, cpu_seconds(roots))

    await verify_all(platform, client, accepted)

    login = Phase("login")
    logins = [
        ("/auth/login", {"email": e, "password": PASSWORD}, client_address(1000 + n))
        for n, e in enumerate(random.sample(accepted, len(accepted)))
    ]
    cpu_before = cpu_seconds(roots)
    started = time.monotonic()
    async with Profiler(profile_pid, "login"):
        await burst(client, login, logins)
    # The login events published: the burst's work is done.
    await wait_for(
        lambda: outbox_empty(platform), timeout=120, interval=0.05, message="login events"
    )
    login.extra["events_published_after_s"] = round(time.monotonic() - started, 2)
    login.cpu_s = spent(cpu_before, cpu_seconds(roots))
    return {"registration": registration.summary(), "login": login.summary()}


# --- the report --------------------------------------------------------------------------------


def markdown(results: dict[str, dict[str, Any]], people: int, load: tuple[float, ...]) -> str:
    lines = [
        f"# Load: {people} registrations, then {people} logins, at once",
        "",
        f"{machine()} · load average before: {', '.join(f'{x:.2f}' for x in load)}",
        "",
        "Latencies run from the common start to each request's final answer; a request answered"
        " 503 overloaded is sent again after its Retry-After, as a client should, and the wait"
        " counts. `first` is the first answers and the p99 of those first answers; `admitted"
        " p99` is the p99 of the first answers that were not 503 (a request let in, start to"
        " answer).",
        "",
        "| profile | phase | final answers | first answers (p99 ms) | admitted p99 ms | resent "
        "| p50 ms | p95 ms | p99 ms | max ms | req/s | emails | done after s |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for profile, phases in results.items():
        settings = ", ".join(f"{k.lower()}={v}" for k, v in PROFILES[profile].items())
        for name, p in phases.items():
            answers = " ".join(f"{c}: {n}" for c, n in sorted(p["statuses"].items()))
            done = p.get("last_email_after_s", p.get("events_published_after_s"))
            first = " ".join(f"{c}: {n}" for c, n in sorted(p["first_answers"].items()))
            lines.append(
                f"| {profile} | {name} | {answers} | {first} ({p['first_answer_p99_ms']}) | "
                f"{p['admitted_p99_ms']} | {p['retries_after_503']} | {p['p50_ms']} | "
                f"{p['p95_ms']} | {p['p99_ms']} | {p['max_ms']} | {p['throughput_per_s']} | "
                f"{p.get('emails', '')} | {done} |"
            )
        lines.append(f"| {profile} | settings | {settings} | | | | | | | | | | |")
    lines += ["", "CPU seconds per process during each phase (burst start to work done):", ""]
    columns = sorted(
        {k for phases in results.values() for p in phases.values() for k in p["cpu_s"]}
    )
    lines.append("| profile | phase | " + " | ".join(columns) + " |")
    lines.append("|---|---|" + "---:|" * len(columns))
    for profile, phases in results.items():
        for name, p in phases.items():
            row = " | ".join(str(p["cpu_s"].get(c, "")) for c in columns)
            lines.append(f"| {profile} | {name} | {row} |")
    return "\n".join(lines) + "\n"


def targets_met(results: dict[str, dict[str, Any]], people: int) -> bool:
    current = results.get("current")
    if current is None:
        return True
    registration, login = current["registration"], current["login"]
    return bool(
        registration["statuses"] == {202: people}
        and registration["emails"] == 2 * people
        and registration["p99_ms"] < 2000
        and login["statuses"] == {200: people}
        and login["p99_ms"] < 2000
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="current,previous")
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument(
        "--py-spy", action="store_true", help="profile auth's api during each burst (py-spy)"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    results = {}
    for profile in args.profiles.split(","):
        print(f"-- profile {profile}: {PROFILES[profile]}", flush=True)
        results[profile] = await run_profile(profile, args.people, py_spy=args.py_spy)
        print(results[profile], flush=True)
    save(
        "load",
        {**machine(), "loadavg": load, "people": args.people, "results": results},
        markdown(results, args.people, load),
    )
    return 0 if targets_met(results, args.people) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
