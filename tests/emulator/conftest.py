"""Fixtures of the emulator's protocol tests: one emulator process and a boto3 client per module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from report_lib.emulator import Emulator
from tests.helpers import bedrock_client


@pytest.fixture(scope="module")
def emu(start_emulator: Callable[..., Emulator]) -> Emulator:
    """An emulator process for the module's tests: calls of 50 ms, answers of seed 1. Its
    counters are not reset between the tests of the module."""
    return start_emulator(latency_model="fixed:0.05", seed=1)


@pytest.fixture(scope="module")
def client(emu: Emulator) -> Any:
    """A real boto3 ``bedrock-runtime`` client for ``emu`` (see helpers.bedrock_client)."""
    return bedrock_client(emu.url)
