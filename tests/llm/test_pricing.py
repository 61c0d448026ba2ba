"""Tests of the price table, its overrides and the cost of a call."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from report_lib.errors import DataError, PriceWarning
from report_lib.llm import pricing
from report_lib.llm.pricing import PRICES_ENV, ModelPrice, cost_usd, lookup_price


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)
    monkeypatch.setattr(pricing, "_warned", set())


@pytest.mark.parametrize(
    ("model_id", "usd_in", "usd_out"),
    [
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", 3.0, 15.0),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", 3.0, 15.0),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", 1.0, 5.0),
        ("apac.anthropic.claude-3-5-haiku-20241022-v1:0", 0.8, 4.0),
        ("anthropic.claude-3-haiku-20240307-v1:0", 0.25, 1.25),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", 5.0, 25.0),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", 15.0, 75.0),
        ("anthropic.claude-opus-4-20250514-v1:0", 15.0, 75.0),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", 3.0, 15.0),
    ],
)
def test_cost_per_million_tokens(model_id: str, usd_in: float, usd_out: float) -> None:
    # 1,234 input and 567 output tokens at the listed USD per 1M tokens
    expected = 1234 * usd_in / 1e6 + 567 * usd_out / 1e6
    assert cost_usd(model_id, 1234, 567) == pytest.approx(expected)


def test_sonnet_report_cost_by_hand() -> None:
    # 2,000 input tokens x $3/M = $0.006; 800 output tokens x $15/M = $0.012
    assert cost_usd("global.anthropic.claude-sonnet-4-5-20250929-v1:0", 2000, 800) == (
        pytest.approx(0.018)
    )


def test_inference_profile_prefixes_are_ignored() -> None:
    base = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    prices = {lookup_price(prefix + base) for prefix in ("", "global.", "us.", "apac.", "eu.")}
    assert prices == {ModelPrice(3.0, 15.0)}


def test_unknown_model_has_no_cost_and_warns_once() -> None:
    with pytest.warns(PriceWarning, match="meta.llama-unknown") as caught:
        assert cost_usd("meta.llama-unknown-v1:0", 1000, 1000) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cost_usd("meta.llama-unknown-v1:0", 5, 5) is None
    assert lookup_price("meta.llama-unknown-v1:0") is None
    assert len(caught) == 1


@pytest.mark.parametrize("model_id", [
    "global.anthropic.claude-opus-4-7", "us.anthropic.claude-opus-4-7-20260101-v1:0",
    "global.anthropic.claude-sonnet-4-6", "anthropic.claude-haiku-4-6-20260101-v1:0",
])
def test_newer_model_does_not_get_an_older_ones_price(model_id: str) -> None:
    assert lookup_price(model_id) is None
    with pytest.warns(PriceWarning) as caught:
        assert cost_usd(model_id, 1000, 1000) is None
    assert str(caught[0].message) == (
        f"no price known for model {model_id!r}: its cost is shown as unknown. Give one in a "
        f'JSON/YAML file named by ${PRICES_ENV}, e.g. {{"{model_id}": [3.0, 15.0]}} (USD per 1M '
        "input and output tokens), or in BackendSettings.prices")


def test_a_price_file_prices_the_new_model(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"global.anthropic.claude-opus-4-7": [5, 25]}), encoding="utf-8")
    monkeypatch.setenv(PRICES_ENV, str(path))
    assert cost_usd("global.anthropic.claude-opus-4-7", 1_000_000, 1_000_000) == 30.0


def test_settings_prices_override_the_table() -> None:
    model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    prices = {"claude-sonnet-4-5": (1.0, 2.0)}
    assert cost_usd(model, 1_000_000, 500_000, prices) == pytest.approx(1.0 + 1.0)
    # a model the override does not mention still uses the table
    assert cost_usd("anthropic.claude-haiku-4-5-20251001-v1:0", 1_000_000, 0, prices) == 1.0


def test_override_can_price_an_unknown_model() -> None:
    prices = {"my-custom-model": {"input": 2.0, "output": 4.0}}
    assert cost_usd("arn:aws:bedrock:us-east-1:1:my-custom-model", 500_000, 250_000, prices) == (
        pytest.approx(1.0 + 1.0)
    )


def test_price_file_from_environment_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"claude-haiku-4-5": [0.5, 2.5]}), encoding="utf-8")
    monkeypatch.setenv(PRICES_ENV, str(path))
    assert cost_usd("us.anthropic.claude-haiku-4-5-20251001-v1:0", 2_000_000, 1_000_000) == (
        pytest.approx(1.0 + 2.5)
    )
    # settings.prices beats the file
    assert cost_usd(
        "us.anthropic.claude-haiku-4-5-20251001-v1:0", 1_000_000, 0, {"haiku-4-5": (9.0, 9.0)}
    ) == pytest.approx(9.0)


def test_price_file_from_environment_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("claude-sonnet-4-5:\n  input: 10\n  output: 20\n", encoding="utf-8")
    monkeypatch.setenv(PRICES_ENV, str(path))
    assert lookup_price("global.anthropic.claude-sonnet-4-5-20250929-v1:0") == ModelPrice(10, 20)


@pytest.mark.parametrize("content", ["[1, 2", "- just\n- a list\n", "model: [1]\n"])
def test_bad_price_file_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv(PRICES_ENV, str(path))
    with pytest.raises(DataError, match=r"bad\.yaml"):
        cost_usd("anthropic.claude-3-haiku", 1, 1)


def test_missing_price_file_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PRICES_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(DataError, match=PRICES_ENV):
        lookup_price("anthropic.claude-3-haiku")


def test_bad_override_value_is_a_data_error() -> None:
    with pytest.raises(DataError, match="claude-x"):
        cost_usd("claude-x", 1, 1, {"claude-x": "cheap"})


def test_unknown_cost_reaches_the_result_as_unknown() -> None:
    from report_lib.records import ReportResult, RunResult

    results = [ReportResult("kpi", "kpi", content="# a", cost_usd=0.0123),
               ReportResult("cpo", "cpo", content="# b", cost_usd=None)]
    run = RunResult(results, 1.0, "thread", "bedrock", "global.anthropic.claude-opus-4-7",
                    "2025-11")
    d = run.to_dict()
    assert d["usage"]["kpi"]["cost_usd"] == 0.0123 and d["usage"]["cpo"]["cost_usd"] is None
    assert d["usage_total"]["cost_usd"] is None
    results[1].cost_usd = 0.001
    assert run.to_dict()["usage_total"]["cost_usd"] == 0.0133
