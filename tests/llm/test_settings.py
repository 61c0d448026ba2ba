"""BackendSettings checks what botocore's (switched off) parameter validation would have."""

from __future__ import annotations

import pytest

from report_lib.errors import ConfigError
from report_lib.llm.settings import BackendSettings
from report_lib.llm.wire import build_request, client_config_kwargs


@pytest.mark.parametrize(("field", "value"), [
    ("max_tokens", 0), ("max_tokens", -5), ("max_tokens", 1.5), ("max_tokens", True),
    ("temperature", -0.1), ("temperature", 1.5), ("temperature", "0.5"),
    ("model_id", ""), ("model_id", None),
])
def test_a_bad_request_value_is_one_clear_error_naming_the_field(field: str,
                                                                 value: object) -> None:
    with pytest.raises(ConfigError) as err:
        BackendSettings(**{field: value})  # type: ignore[arg-type]
    assert field in str(err.value) and repr(value) in str(err.value)


@pytest.mark.parametrize(("max_tokens", "temperature"), [(1, 0), (4096, 1.0), (300, 0.2)])
def test_good_values_pass_and_reach_the_request(max_tokens: int, temperature: float) -> None:
    from report_lib.records import ReportJob

    settings = BackendSettings(max_tokens=max_tokens, temperature=temperature)
    request = build_request(ReportJob(key="kpi", kind="kpi", system="s", prompt="p"), settings)
    assert request["inferenceConfig"] == {"maxTokens": max_tokens, "temperature": temperature}


def test_botocore_parameter_validation_is_off_for_our_clients() -> None:
    assert client_config_kwargs(BackendSettings())["parameter_validation"] is False


def test_the_user_agent_is_fixed_and_names_report_lib_and_botocore() -> None:
    import botocore

    kwargs = client_config_kwargs(BackendSettings())
    assert kwargs["user_agent"].startswith("report-lib ")
    assert f"Botocore/{botocore.__version__}" in kwargs["user_agent"]
