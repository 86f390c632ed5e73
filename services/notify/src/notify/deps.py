"""Notify's dependency aliases: the container, its bound use cases, the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from notify.container import Container
from notify.handlers import bounces, history
from notify.models import Email
from servicekit.caller import CallerDep
from servicekit.deps import UseCase, container_of, use_case

__all__ = ["CallerDep", "ContainerDep", "EmailsOf", "HandleProviderEvents"]

ContainerDep = Annotated[Container, Depends(container_of)]
EmailsOf = Annotated[UseCase[list[Email]], Depends(use_case(history.emails_of))]
HandleProviderEvents = Annotated[UseCase[int], Depends(use_case(bounces.handle_provider_events))]
