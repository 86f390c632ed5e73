"""`just up`: the whole platform on this machine for a person, on fixed ports, until Ctrl-C.

Its databases and virtual host (`e2e_dev_*`, `e2e-dev`) are kept between runs; mail the catcher
receives is written as .eml files a person can open (the verification link is in there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from devkit import providers
from devkit.platform import Platform


async def _serve_forever(platform: Platform) -> None:
    await platform.start()
    for name, process in platform.processes.items():
        print(f"{name:18} {process.url}   log: {process.log_path}")
    print(f"{'SMTP catcher':18} 127.0.0.1:{platform.smtp.port}")
    print(f"{'Sentry endpoint':18} {platform.sentry.dsn}")
    for target in platform.metrics_targets():
        print(f"{'metrics':18} http://{target.address}/metrics   ({target.service} {target.role})")
    if platform.prometheus is not None:
        url = platform.prometheus.url
        print(f"{'Prometheus UI':18} {url}   (targets: {url}/targets)")
        print(f"{'alerts':18} {url}/alerts   (rules: monitoring/alerts.yml)")
    else:
        print("Prometheus is not installed (bash scripts/prometheus.sh): no alerts in this run.")
    mailbox = platform.log_dir / "mail"
    mailbox.mkdir(parents=True, exist_ok=True)
    print(f"Mail received by the catcher is written to {mailbox}/. Ctrl-C stops everything.")
    stop = asyncio.Event()
    keeper = asyncio.create_task(_keep_mail(platform, mailbox, stop))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await keeper
        await platform.stop()


async def _keep_mail(platform: Platform, mailbox: Path, stop: asyncio.Event) -> None:
    """Write each mail the catcher receives as an .eml file a person can open."""
    written = 0
    while not stop.is_set():
        for mail in platform.smtp.messages[written:]:
            written += 1
            path = mailbox / f"{written:04d}-{mail.recipients[0]}.eml"
            path.write_bytes(mail.message.as_bytes())
            print(f"mail to {', '.join(mail.recipients)}: {mail.message['Subject']}  ({path})")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the platform locally (`just up`).")
    parser.add_argument("--infra", default="local", help="local | containers | auto")
    args = parser.parse_args()
    platform = Platform(providers.choose(args.infra, dev=True), dev=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(platform))


if __name__ == "__main__":
    main()
