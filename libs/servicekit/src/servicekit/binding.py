"""Use cases bound to their dependencies once, by parameter name (as cosmicpython's bootstrap).

A use case is a plain async function: positional parameters are what its caller passes (the
request body, the delivery), keyword-only ones are dependencies (`uow`, `clock`, `settings`,
an adapter). `bind` fills the keyword-only ones from a container's attributes, so routes, event
subscriptions and tests all call the same bound function.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

R = TypeVar("R")


class MissingDependency(TypeError):
    """A use case asks for a dependency by a name its container does not provide."""


def dependencies_of(fn: Callable[..., Any]) -> list[str]:
    """The keyword-only parameters of `fn` without a default: what must be injected."""
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    ]


def bind(
    fn: Callable[..., R], provider: object, extra: Mapping[str, Any] | None = None
) -> Callable[..., R]:
    """`fn` with every keyword-only dependency taken from `extra` or `provider`'s attributes."""
    given = dict(extra or {})
    for name in dependencies_of(fn):
        if name in given:
            continue
        if not hasattr(provider, name):
            raise MissingDependency(
                f"{fn.__module__}.{fn.__qualname__} needs {name!r}, which "
                f"{type(provider).__name__} does not provide"
            )
        given[name] = getattr(provider, name)
    bound = functools.partial(fn, **given)
    functools.update_wrapper(bound, fn)
    return bound


class Bindings:
    """A container's cache of bound use cases: each function is bound once."""

    def __init__(self, provider: object) -> None:
        self._provider = provider
        self._bound: dict[Callable[..., Any], Callable[..., Any]] = {}

    def __call__(self, fn: Callable[..., R]) -> Callable[..., R]:
        bound = self._bound.get(fn)
        if bound is None:
            bound = self._bound[fn] = bind(fn, self._provider)
        return bound
