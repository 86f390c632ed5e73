"""Development defaults for secrets are refused outside dev."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    api_key: SecretStr = SecretStr("dev-only")
    secret_fields: tuple[str, ...] = ("api_key",)


def test_dev_may_keep_the_defaults() -> None:
    assert Settings(environment="dev").api_key.get_secret_value() == "dev-only"


def test_prod_refuses_a_default_secret() -> None:
    with pytest.raises(ValidationError, match="api_key still hold"):
        Settings(environment="prod")
    assert Settings(environment="prod", api_key=SecretStr("real")).environment == "prod"
