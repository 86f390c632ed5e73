"""`python -m events ...`: DLQ operations, schema and AsyncAPI upkeep, topology declaration."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from events import asyncapi, schemas
from events.catalog import CATALOG
from events.connection import connect
from events.dlq import DeadLetterQueues, DeadMessage, Filter
from events.settings import BusSettings
from events.topology import declare_subscription

_DURATION = re.compile(r"^(\d+)([smhd])$")
console = Console()
err = Console(stderr=True)


def duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and s, m, h or d (e.g. 30m)")
    value, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: value})


def _settings(args: argparse.Namespace) -> BusSettings:
    url = args.url or os.environ.get("EVENTS_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
    return BusSettings(amqp_url=SecretStr(url), exchange=args.exchange)


def _filter(args: argparse.Namespace) -> Filter:
    return Filter(
        event_type=args.event_type,
        error_type=args.error_type,
        older_than=args.older_than,
        newer_than=args.newer_than,
        message_ids=frozenset(args.message_id or ()),
    )


def _print_messages(messages: list[DeadMessage], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps([m.summary() for m in messages]))
        return
    table = Table("message id", "type", "reason", "error", "attempts", "failed at")
    for m in messages:
        s = m.summary()
        table.add_row(
            s["message_id"],
            s["event_type"],
            s["reason"],
            f"{s['error_type']}: {s['error']}",
            str(s["attempts"]),
            s["failed_at"],
        )
    console.print(table)


async def _dlq(args: argparse.Namespace) -> int:
    settings = _settings(args)
    connection = await connect(settings, "events-cli")
    try:
        ops = DeadLetterQueues(connection)
        if args.action == "list":
            _print_messages(
                await ops.browse(args.queue, limit=args.limit, where=_filter(args)), args.json
            )
        elif args.action == "show":
            msg = await ops.show(args.queue, args.id)
            if msg is None:
                err.print(f"no message {args.id} in {args.queue}")
                return 1
            body: Any
            try:
                body = json.loads(msg.body)
            except ValueError:
                body = msg.body.decode(errors="replace")
            console.print_json(
                json.dumps({"headers": {k: str(v) for k, v in msg.headers.items()}, "body": body})
            )
        elif args.action == "replay":
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task(f"replaying {args.queue}", total=None)
                record = await ops.replay(
                    args.queue,
                    where=_filter(args),
                    batch_size=args.batch_size,
                    limit=args.limit,
                    dry_run=args.dry_run,
                    note=args.note,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            verb = "would replay" if args.dry_run else "replayed"
            console.print(
                f"{verb} {len(record.message_ids)} message(s); audit id {record.audit_id}"
            )
            if args.json:
                console.print_json(json.dumps(record.__dict__))
        elif args.action == "purge":
            if not args.yes:
                err.print("purge drops messages for good: add --yes to confirm")
                return 2
            record = await ops.purge(args.queue, where=_filter(args), note=args.note)
            console.print(
                f"purged {len(record.message_ids)} message(s); audit id {record.audit_id}"
            )
        elif args.action == "audit":
            console.print_json(json.dumps(await ops.audit_log(limit=args.limit)))
        return 0
    finally:
        await connection.close()


async def _topology(args: argparse.Namespace) -> int:
    settings = _settings(args)
    connection = await connect(settings, "events-cli")
    try:
        channel = await connection.channel()
        subs = [s for s in CATALOG.subscriptions if not args.service or s.service in args.service]
        for sub in subs:
            await declare_subscription(channel, sub, settings)
            console.print(f"declared {sub.queue} ({', '.join(sub.types)})")
        return 0
    finally:
        await connection.close()


def _schemas(args: argparse.Namespace) -> int:
    if args.write:
        problems = schemas.write(force=args.force)
        if problems:
            err.print("refused: these changes break v1 consumers; publish a new type (.v2):")
            for p in problems:
                err.print(f"  {p}")
            return 1
        console.print(f"wrote {schemas.SCHEMA_DIR}")
        return 0
    problems = schemas.drift()
    for p in problems:
        err.print(p)
    return 1 if problems else 0


def _asyncapi(args: argparse.Namespace) -> int:
    text = asyncapi.render()
    if args.write:
        asyncapi.DOC_PATH.write_text(text)
        console.print(f"wrote {asyncapi.DOC_PATH}")
        return 0
    current = asyncapi.DOC_PATH.read_text() if asyncapi.DOC_PATH.exists() else ""
    if current != text:
        err.print(f"{asyncapi.DOC_PATH} is stale: run `just contracts`")
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m events", description=__doc__)
    p.add_argument("--url", help="AMQP URL (default: $EVENTS_AMQP_URL or local guest)")
    p.add_argument("--exchange", default="events")
    sub = p.add_subparsers(dest="command", required=True)

    dlq = sub.add_parser("dlq", help="inspect, replay or purge a dead-letter queue")
    dlq.add_argument("action", choices=["list", "show", "replay", "purge", "audit"])
    dlq.add_argument("queue", nargs="?", default="", help="handler queue or its .dlq")
    dlq.add_argument("id", nargs="?", help="message id (show)")
    dlq.add_argument("--event-type")
    dlq.add_argument("--error-type", help="exception class (a suffix is enough)")
    dlq.add_argument("--older-than", type=duration)
    dlq.add_argument("--newer-than", type=duration)
    dlq.add_argument("--message-id", action="append")
    dlq.add_argument("--limit", type=int, default=None)
    dlq.add_argument("--batch-size", type=int, default=50)
    dlq.add_argument("--dry-run", action="store_true")
    dlq.add_argument("--note", help="why (kept in the audit record)")
    dlq.add_argument("--yes", action="store_true")
    dlq.add_argument("--json", action="store_true")

    topo = sub.add_parser("topology", help="declare the catalog's queues (all, or some services)")
    topo.add_argument("service", nargs="*")

    sch = sub.add_parser("schemas", help="check (default) or --write the committed JSON Schemas")
    sch.add_argument("--write", action="store_true")
    sch.add_argument("--force", action="store_true", help="write even a breaking change")

    api = sub.add_parser("asyncapi", help="check (default) or --write docs/asyncapi.yaml")
    api.add_argument("--write", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "dlq":
        if not args.queue and args.action != "audit":
            err.print("name a queue, e.g. notify.welcome_email")
            return 2
        if args.action == "list" and args.limit is None:
            args.limit = 100
        if args.action == "audit" and args.limit is None:
            args.limit = 100
        return asyncio.run(_dlq(args))
    if args.command == "topology":
        return asyncio.run(_topology(args))
    if args.command == "schemas":
        return _schemas(args)
    return _asyncapi(args)


if __name__ == "__main__":
    sys.exit(main())
