"""What auth's use cases share: the unit of work factory they are given."""

from __future__ import annotations

from collections.abc import Callable

from auth.unit_of_work import AuthUnitOfWork

UowFactory = Callable[[], AuthUnitOfWork]
