"""Media's dependency aliases: the container, the caller, each use case bound once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from media.container import Container
from media.handlers import reads, uploads
from media.models import DirectUpload, MediaPublic
from servicekit.caller import CallerDep, OptionalCallerDep
from servicekit.deps import UseCase, container_of, use_case

__all__ = ["CallerDep", "OptionalCallerDep"]

ContainerDep = Annotated[Container, Depends(container_of)]
CheckUpload = Annotated[UseCase[None], Depends(use_case(uploads.check_upload))]
UploadMedia = Annotated[UseCase[MediaPublic], Depends(use_case(uploads.upload_media))]
RequestDirectUpload = Annotated[
    UseCase[DirectUpload], Depends(use_case(uploads.request_direct_upload))
]
CompleteDirectUpload = Annotated[
    UseCase[MediaPublic], Depends(use_case(uploads.complete_direct_upload))
]
GetMedia = Annotated[UseCase[MediaPublic], Depends(use_case(reads.get_media))]
