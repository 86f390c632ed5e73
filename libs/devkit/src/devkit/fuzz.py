"""`just fuzz`: schemathesis against every service's OpenAPI, with all its checks, on the
platform as `just up` runs it (real processes, real servers).

Every service the declarations name is fuzzed (a new one needs no list edited here), with a
bearer token of a verified account, so the routes behind authentication are reached. Bounded in
examples per operation and in time per service, so CI can run it; exits non-zero on any failure
(a 5xx, an undocumented status or header, a body that breaks its schema, an error that is not
problem+json, data the schema allows refused, data it forbids accepted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import uuid
from pathlib import Path

import httpx

from devkit import providers
from devkit.platform import Platform
from devkit.servers import repo_root

CONFIG = Path(__file__).with_name("schemathesis.toml")
PASSWORD = "fuzzing is a long walk"  # noqa: S105 - an account made for this run
LINK = re.compile(r"verify\?token=([A-Za-z0-9_%\-]+)")


async def bearer_token(platform: Platform) -> str:
    """An access token of a verified account, made the way a person makes one."""
    email = f"fuzz-{uuid.uuid4().hex[:10]}@example.org"
    async with httpx.AsyncClient(base_url=platform.url("auth"), timeout=30) as auth:
        body = {"email": email, "password": PASSWORD, "display_name": "Fuzz"}
        registered = await auth.post("/auth/register", json=body)
        registered.raise_for_status()
        mail = await platform.smtp.wait_for_mail(
            email, lambda m: m.message["Subject"] == "Confirm your email address", timeout=60
        )
        match = LINK.search(mail.part("plain"))
        assert match, "no verification link in the email"
        (await auth.post("/auth/verify", json={"token": match.group(1)})).raise_for_status()
        login = await auth.post("/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        return str(login.json()["access_token"])


async def fuzz(name: str, url: str, token: str, examples: int, seconds: int) -> int:
    """One service's run of `st run`; returns its exit code."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--max-time",
        str(seconds),
        "--workers",
        "2",
        "--seed",
        os.environ.get("FUZZ_SEED", "20261126"),
        "--header",
        f"Authorization: Bearer {token}",
        "--report",
        "junit",
        "--report-dir",
        str(repo_root() / ".fuzz" / name),
        "--no-color",
    ]
    print(f"\n=== {name}: {url}/openapi.json ===", flush=True)
    process = await asyncio.create_subprocess_exec(*command, cwd=repo_root())
    try:
        return await asyncio.wait_for(process.wait(), seconds + 180)
    except TimeoutError:
        process.kill()
        await process.wait()
        print(f"{name}: schemathesis overran its time budget", flush=True)
        return 1


async def run(examples: int, seconds: int, only: list[str]) -> int:
    # The whole platform runs (the token's verification email needs notify), whatever is fuzzed.
    platform = Platform(providers.choose())
    await platform.start()
    try:
        token = await bearer_token(platform)
        codes = {
            s.name: await fuzz(s.name, platform.url(s.name), token, examples, seconds)
            for s in platform.services
            if not only or s.name in only
        }
    finally:
        await platform.stop()
    print("\n" + "\n".join(f"{name}: {'ok' if c == 0 else 'FAILED'}" for name, c in codes.items()))
    return 0 if all(c == 0 for c in codes.values()) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description="Fuzz every service's OpenAPI (`just fuzz`).")
    parser.add_argument("--examples", type=int, default=40, help="per operation")
    parser.add_argument("--seconds", type=int, default=120, help="per service")
    parser.add_argument("services", nargs="*", help="fuzz only these (all of them by default)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args.examples, args.seconds, args.services)))


if __name__ == "__main__":
    main()
