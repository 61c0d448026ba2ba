"""Credentials for the sync and async clients: the boto3 chain only, checked before any call.

The ``emulator`` backend signs with fixed dummy keys, so it never needs (or sees) real ones.
Every failure becomes one CredentialsError that says how to provide credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ProfileNotFound

from report_lib.errors import CredentialsError

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

EMULATOR_KEYS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}
CREDENTIALS_HELP = (
    "Set AWS credentials the standard boto3 way: a profile (`aws configure` or "
    "`aws configure sso` then `aws sso login`, and AWS_PROFILE=<name> or --profile), or the "
    "environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), or an "
    "instance/container role. To run without AWS use `--backend emulator` (local Bedrock "
    "emulator) or `--backend offline`."
)


def fixed_keys(settings: BackendSettings) -> dict[str, str] | None:
    """The dummy keys to sign with (emulator backend), or None to use the boto3 chain."""
    return dict(EMULATOR_KEYS) if settings.backend == "emulator" else None


@contextmanager
def credential_errors(settings: BackendSettings) -> Iterator[None]:
    """Turn a missing profile or a broken config/SSO cache into a CredentialsError."""
    try:
        yield
    except ProfileNotFound as exc:
        raise CredentialsError(
            f"AWS profile {settings.profile!r} not found. {CREDENTIALS_HELP}"
        ) from exc
    except BotoCoreError as exc:
        raise CredentialsError(
            f"AWS credentials could not be loaded ({exc}). {CREDENTIALS_HELP}"
        ) from exc


def require_credentials(credentials: Any) -> None:
    """Raise CredentialsError when the chain found nothing."""
    if credentials is None:
        raise CredentialsError(f"No AWS credentials found. {CREDENTIALS_HELP}")
