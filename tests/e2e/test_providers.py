"""Choosing the infrastructure: a missing engine or image is a clear message, not a crash."""

from __future__ import annotations

import pytest

from devkit import providers


def test_auto_falls_back_to_local_where_no_engine_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_engine() -> None:
        raise providers.ProviderUnavailable("no engine")

    monkeypatch.setattr(providers.ContainersProvider, "engine", staticmethod(no_engine))
    assert isinstance(providers.choose("auto"), providers.LocalProvider)
    assert isinstance(providers.choose("local"), providers.LocalProvider)


def test_auto_picks_containers_when_the_engine_has_every_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(providers.ContainersProvider, "missing_images", classmethod(lambda cls: []))
    assert isinstance(providers.choose("auto"), providers.ContainersProvider)


def test_an_unknown_mode_says_what_is_accepted() -> None:
    with pytest.raises(providers.ProviderUnavailable, match="containers, local or auto"):
        providers.choose("kubernetes")


def test_containers_without_an_engine_explains_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(providers.ProviderUnavailable, match=r"E2E_INFRA=local"):
        providers.ContainersProvider().start()
