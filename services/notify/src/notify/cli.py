"""`python -m notify suppressions show|lift ...`: the operators' command line, on the same
use cases as the ops port's routes (so both are audited the same way)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from notify import errors
from notify.config import Settings
from notify.container import build
from notify.handlers.suppressions import lift_suppression, suppression_of
from notify.models import LiftRequest


def suppressions(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m notify suppressions")
    actions = parser.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="whether an address is suppressed, and why")
    show.add_argument("address")
    lift = actions.add_parser("lift", help="lift an address's suppression (audited)")
    lift.add_argument("address")
    lift.add_argument("--operator", required=True, help="who lifts it (kept in the audit)")
    lift.add_argument("--reason", required=True, help="why (kept in the audit)")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    container = build(Settings())
    try:
        if args.action == "show":
            found = await container.bound(suppression_of)(args.address)
            shown = {
                "address": found.address_key,
                "reason": found.reason,
                "detail": found.detail,
                "suppressed_at": found.created_at.isoformat(),
            }
        else:
            request = LiftRequest(operator=args.operator, reason=args.reason)
            audit = await container.bound(lift_suppression)(args.address, request)
            shown = {"lifted": audit.address_key, "audit_id": str(audit.id)}
    except errors.NotSuppressed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        await container.close()
    print(json.dumps(shown))
    return 0
