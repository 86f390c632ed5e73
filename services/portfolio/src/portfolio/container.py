"""Portfolio's composition root: settings in, database, page cache and token verifier out."""

from __future__ import annotations

from dataclasses import dataclass

from portfolio.adapters.redis_cache import RedisPageCache
from portfolio.cache import PageCache
from portfolio.config import Settings
from portfolio.unit_of_work import PortfolioUnitOfWork
from servicekit.caller import verifier_for
from servicekit.clock import Clock, SystemClock
from servicekit.container import ServiceContainer, open_database
from servicekit.tokens import JwksVerifier


@dataclass(kw_only=True)
class Container(ServiceContainer):
    settings: Settings
    cache: PageCache
    verifier: JwksVerifier

    def uow(self) -> PortfolioUnitOfWork:
        return PortfolioUnitOfWork(self.sessions)


def build(
    settings: Settings, *, clock: Clock | None = None, cache: PageCache | None = None
) -> Container:
    container = Container(
        settings=settings,
        engine=open_database(settings),
        clock=clock or SystemClock(),
        cache=cache or RedisPageCache(settings.redis),
        verifier=verifier_for(settings.tokens),
    )
    container.on_close(container.cache.close)
    container.on_close(container.verifier.close)
    return container
