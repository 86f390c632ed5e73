"""Media's HTTP routes: uploads streamed to a temp file, direct uploads, status with signed URLs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from media import errors
from media.deps import (
    CallerDep,
    CheckUpload,
    CompleteDirectUpload,
    ContainerDep,
    GetMedia,
    OptionalCallerDep,
    RequestDirectUpload,
    UploadMedia,
)
from media.models import DirectUpload, DirectUploadRequest, MediaPublic
from media.upload_stream import receive
from servicekit.problems import responses
from servicekit.tokens import InvalidToken, Unauthenticated

router = APIRouter(prefix="/media", tags=["media"])
_AUTH = (Unauthenticated, InvalidToken)
_ITEM = (*_AUTH, errors.ItemNotFound, errors.NotAllowed)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload an image for an item (multipart, field `file`); processing follows",
    responses=responses(
        *_ITEM,
        errors.UploadTooLarge,
        errors.UploadMalformed,
        errors.StorageDown,
        415,
        422,
    ),
)
async def upload(
    item_id: uuid.UUID,
    request: Request,
    response: Response,
    caller: CallerDep,
    c: ContainerDep,
    check: CheckUpload,
    upload_media: UploadMedia,
) -> MediaPublic:
    await check(caller.user_id, item_id)  # before a byte of the body is read
    with c.temp.work() as folder:
        received = await receive(request, folder / "upload", c.settings.max_upload_bytes)
        media = await upload_media(caller.user_id, item_id, received)
    response.headers["Location"] = f"/media/{media.id}"
    return media


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    summary="A presigned upload straight to storage, for large files",
    responses=responses(*_ITEM, errors.UploadTooLarge, errors.StorageDown),
)
async def direct_upload(
    body: DirectUploadRequest, caller: CallerDep, request_upload: RequestDirectUpload
) -> DirectUpload:
    return await request_upload(caller.user_id, body.item_id, body.content_type, body.size_bytes)


@router.post(
    "/{media_id}/complete",
    status_code=status.HTTP_202_ACCEPTED,
    summary="The direct upload is in storage: validate it and queue its processing",
    responses=responses(
        *_AUTH, errors.MediaNotFound, errors.NotPending, errors.UploadNotFound, 415, 422
    ),
)
async def complete(
    media_id: uuid.UUID, caller: CallerDep, complete_upload: CompleteDirectUpload
) -> MediaPublic:
    return await complete_upload(caller.user_id, media_id)


@router.get(
    "/{media_id}",
    summary="Status and variants, with signed URLs for whoever may see the portfolio",
    responses=responses(*_AUTH, errors.MediaNotFound, errors.StorageDown),
)
async def get(media_id: uuid.UUID, caller: OptionalCallerDep, get_media: GetMedia) -> MediaPublic:
    return await get_media(caller.user_id if caller else None, media_id)
