"""Media's composition root: settings in, database, object storage, imaging pool, temp area."""

from __future__ import annotations

from dataclasses import dataclass

from media.adapters.s3 import S3Storage
from media.config import Settings
from media.imaging_pool import ImagingPool
from media.storage import ObjectStorage
from media.tempfiles import TempArea
from media.unit_of_work import MediaUnitOfWork
from servicekit.caller import verifier_for
from servicekit.clock import Clock, SystemClock
from servicekit.container import ServiceContainer, open_database
from servicekit.tokens import JwksVerifier


@dataclass(kw_only=True)
class Container(ServiceContainer):
    settings: Settings
    storage: ObjectStorage
    pool: ImagingPool
    temp: TempArea
    verifier: JwksVerifier

    def uow(self) -> MediaUnitOfWork:
        return MediaUnitOfWork(self.sessions)


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    container = Container(
        settings=settings,
        engine=open_database(settings),
        clock=clock or SystemClock(),
        storage=S3Storage(settings.s3),
        pool=ImagingPool.from_settings(settings.imaging),
        temp=TempArea(settings.temp_dir),
        verifier=verifier_for(settings.tokens),
    )
    container.on_close(container.storage.close)
    container.on_close(container.pool.close)
    container.on_close(container.verifier.close)
    return container
