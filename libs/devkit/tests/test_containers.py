"""Which image each backend of the containers provider runs, and how MinIO and the SeaweedFS
stand-in differ (port, command). The provider itself runs in tests/images, on the engine."""

from __future__ import annotations

import pytest

from devkit.containers import BACKENDS, choose_image


def test_a_configured_image_wins_even_when_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_IMAGE_REDIS", "example/redis:1")
    choice = choose_image(BACKENDS["redis"], lambda image: False)
    assert (choice.image, choice.reason, choice.present) == ("example/redis:1", "configured", False)


def test_s3_reads_its_own_variable_before_the_minio_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_IMAGE_MINIO", "minio/minio:old")
    assert choose_image(BACKENDS["s3"], lambda image: True).image == "minio/minio:old"
    monkeypatch.setenv("E2E_IMAGE_S3", "example/s3:1")
    assert choose_image(BACKENDS["s3"], lambda image: True).image == "example/s3:1"


def test_the_official_image_first_then_the_local_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2E_IMAGE_POSTGRES", raising=False)
    backend = BACKENDS["postgres"]
    assert choose_image(backend, lambda image: True).reason == "official"
    local = choose_image(backend, lambda image: image == backend.local)
    assert (local.image, local.reason) == (backend.local, "local stand-in")
    neither = choose_image(backend, lambda image: False)
    assert (neither.image, neither.present) == (backend.official, False)  # to be pulled


def test_meilisearch_has_no_stand_in_and_is_optional() -> None:
    assert BACKENDS["meilisearch"].local is None
    assert BACKENDS["meilisearch"].optional
    assert not any(b.optional for k, b in BACKENDS.items() if k != "meilisearch")


def test_minio_and_the_seaweedfs_stand_in_serve_s3_on_their_own_ports() -> None:
    s3 = BACKENDS["s3"]
    assert (s3.port_of("minio/minio:latest"), s3.command_of("minio/minio:latest")) == (
        9000,
        ["server", "/data"],
    )
    assert (s3.port_of("portfolio-local/s3:latest"), s3.command_of("portfolio-local/s3")) == (
        8333,
        None,
    )


def test_postgres_runs_without_durability_under_either_image() -> None:
    command = BACKENDS["postgres"].command_of("postgres:16")
    assert command is not None
    assert command[:2] == ["-c", "fsync=off"]  # the image's entrypoint prepends `postgres`
