"""What a user would write instead of report-lib: each peer library's own way of parallel calls.

Every runner sends the same requests (``PeerWork``: the jobs' system prompts and prompts, the
same ``max_tokens`` and temperature, one model id, one endpoint) and keeps the library's
DEFAULT retry settings; only the endpoint and (dummy) credentials are pointed at the emulator,
the way a user would point them at Bedrock. Each library is imported inside its runner, so a
cold run pays for its own imports only. Runners return one ``PeerCall`` per job, in job order;
a call that raised is a lost report (``ok=False`` with the exception's type).

- ``langchain-batch``: ``ChatBedrockConverse(...).batch(inputs, config={"max_concurrency": c})``
  (langchain's thread pool; the boto3 client's default pool);
- ``langchain-abatch``: the same model's ``abatch`` (asyncio; ChatBedrockConverse has no native
  async call, so langchain runs each in the event loop's default executor);
- ``aioboto3``: one ``aioboto3.Session``, one client whose pool holds ``c`` connections,
  ``asyncio.gather`` over ``converse`` bounded by an ``asyncio.Semaphore(c)``;
- ``llamaindex``: ``BedrockConverse(...).achat`` under ``asyncio.gather``;
- ``anthropic-sdk``: ``AsyncAnthropicBedrock().messages.create`` under ``asyncio.gather``
  (Bedrock's InvokeModel with the Anthropic Messages body).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

DUMMY_KEYS = {"AWS_ACCESS_KEY_ID": "emulator", "AWS_SECRET_ACCESS_KEY": "emulator"}


@dataclass(frozen=True)
class PeerJob:
    """One request: what every client sends for one report."""

    key: str
    system: str
    prompt: str


@dataclass(frozen=True)
class PeerWork:
    """The requests of one run and where they go."""

    jobs: tuple[PeerJob, ...]
    concurrency: int
    endpoint_url: str
    model_id: str
    region: str
    max_tokens: int
    temperature: float


@dataclass
class PeerCall:
    """One call's outcome, times relative to the run's start."""

    key: str
    ok: bool
    start_s: float = 0.0
    end_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    error_type: str | None = None
    error_message: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _failed(key: str, exc: BaseException, start: float, end: float) -> PeerCall:
    return PeerCall(key, False, start, end, error_type=type(exc).__name__,
                    error_message=str(exc)[:300])


async def _timed(key: str, t0: float, call: Awaitable[tuple[int, int]]) -> PeerCall:
    start = time.perf_counter() - t0
    try:
        tokens_in, tokens_out = await call
    except Exception as exc:  # a lost report, counted, never hidden
        return _failed(key, exc, start, time.perf_counter() - t0)
    return PeerCall(key, True, start, time.perf_counter() - t0, tokens_in, tokens_out)


# --- langchain-aws ---------------------------------------------------------------------------


def _langchain_model(work: PeerWork) -> Any:
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(model=work.model_id, region_name=work.region,
                               base_url=work.endpoint_url, max_tokens=work.max_tokens,
                               temperature=work.temperature)


def _langchain_inputs(work: PeerWork) -> list[list[tuple[str, str]]]:
    return [[("system", j.system), ("human", j.prompt)] for j in work.jobs]


def _langchain_calls(work: PeerWork, outputs: Sequence[Any], elapsed: float) -> list[PeerCall]:
    """batch/abatch give no per-call times: every call spans the run."""
    calls = []
    for job, out in zip(work.jobs, outputs, strict=True):
        if isinstance(out, BaseException):
            calls.append(_failed(job.key, out, 0.0, elapsed))
            continue
        usage = getattr(out, "usage_metadata", None) or {}
        calls.append(PeerCall(job.key, True, 0.0, elapsed, int(usage.get("input_tokens", 0)),
                              int(usage.get("output_tokens", 0))))
    return calls


class LangchainBatch:
    """``ChatBedrockConverse.batch(..., config={"max_concurrency": c})``."""

    def __init__(self, work: PeerWork) -> None:
        self.model = _langchain_model(work)

    def run(self, work: PeerWork) -> list[PeerCall]:
        t0 = time.perf_counter()
        outputs = self.model.batch(_langchain_inputs(work),
                                   config={"max_concurrency": work.concurrency},
                                   return_exceptions=True)
        return _langchain_calls(work, outputs, time.perf_counter() - t0)


class LangchainAbatch:
    """``await ChatBedrockConverse.abatch(..., config={"max_concurrency": c})``."""

    def __init__(self, work: PeerWork) -> None:
        self.model = _langchain_model(work)

    async def arun(self, work: PeerWork) -> list[PeerCall]:
        t0 = time.perf_counter()
        outputs = await self.model.abatch(_langchain_inputs(work),
                                          config={"max_concurrency": work.concurrency},
                                          return_exceptions=True)
        return _langchain_calls(work, outputs, time.perf_counter() - t0)

    async def aclose(self) -> None:
        return None


# --- aioboto3 --------------------------------------------------------------------------------


class Aioboto3Gather:
    """One session, one client (pool of ``c``), ``asyncio.gather`` under a semaphore."""

    def __init__(self, work: PeerWork) -> None:
        self.client: Any = None
        self._context: Any = None

    async def open(self, work: PeerWork) -> None:
        import aioboto3
        from aiobotocore.config import AioConfig

        session = aioboto3.Session()
        self._context = session.client(
            "bedrock-runtime", region_name=work.region, endpoint_url=work.endpoint_url,
            config=AioConfig(max_pool_connections=work.concurrency))
        self.client = await self._context.__aenter__()

    async def arun(self, work: PeerWork) -> list[PeerCall]:
        if self.client is None:
            await self.open(work)
        semaphore = asyncio.Semaphore(work.concurrency)
        t0 = time.perf_counter()

        async def one(job: PeerJob) -> tuple[int, int]:
            async with semaphore:
                out = await self.client.converse(
                    modelId=work.model_id, system=[{"text": job.system}],
                    messages=[{"role": "user", "content": [{"text": job.prompt}]}],
                    inferenceConfig={"maxTokens": work.max_tokens,
                                     "temperature": work.temperature})
            return int(out["usage"]["inputTokens"]), int(out["usage"]["outputTokens"])

        return list(await asyncio.gather(*(_timed(j.key, t0, one(j)) for j in work.jobs)))

    async def aclose(self) -> None:
        if self._context is not None:
            await self._context.__aexit__(None, None, None)
            self._context = self.client = None


# --- llama-index -----------------------------------------------------------------------------


class LlamaindexGather:
    """``BedrockConverse(...).achat`` under ``asyncio.gather``."""

    def __init__(self, work: PeerWork) -> None:
        from llama_index.llms.bedrock_converse import BedrockConverse

        self.llm = BedrockConverse(model=work.model_id, region_name=work.region,
                                   endpoint_url=work.endpoint_url, max_tokens=work.max_tokens,
                                   temperature=work.temperature)

    async def arun(self, work: PeerWork) -> list[PeerCall]:
        from llama_index.core.llms import ChatMessage

        t0 = time.perf_counter()

        async def one(job: PeerJob) -> tuple[int, int]:
            response = await self.llm.achat([ChatMessage(role="system", content=job.system),
                                             ChatMessage(role="user", content=job.prompt)])
            usage = response.additional_kwargs or {}
            return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))

        return list(await asyncio.gather(*(_timed(j.key, t0, one(j)) for j in work.jobs)))

    async def aclose(self) -> None:
        return None


# --- Anthropic SDK ---------------------------------------------------------------------------


def _temperature_argument(client: Any, temperature: float) -> dict[str, Any]:
    import inspect

    accepted = inspect.signature(client.messages.create).parameters
    if "temperature" in accepted:
        return {"temperature": temperature}
    return {"extra_body": {"temperature": temperature}}


class AnthropicGather:
    """``AsyncAnthropicBedrock().messages.create`` under ``asyncio.gather`` (InvokeModel)."""

    def __init__(self, work: PeerWork) -> None:
        from anthropic import AsyncAnthropicBedrock

        self.client = AsyncAnthropicBedrock(aws_region=work.region, base_url=work.endpoint_url)

    async def arun(self, work: PeerWork) -> list[PeerCall]:
        t0 = time.perf_counter()
        # SDK 2.x has no ``temperature`` argument; its body field goes through ``extra_body``
        temperature = _temperature_argument(self.client, work.temperature)

        async def one(job: PeerJob) -> tuple[int, int]:
            message = await self.client.messages.create(
                model=work.model_id, max_tokens=work.max_tokens, system=job.system,
                messages=[{"role": "user", "content": job.prompt}], **temperature)
            return int(message.usage.input_tokens), int(message.usage.output_tokens)

        return list(await asyncio.gather(*(_timed(j.key, t0, one(j)) for j in work.jobs)))

    async def aclose(self) -> None:
        await self.client.close()


SyncPeer = LangchainBatch
AsyncPeer = LangchainAbatch | Aioboto3Gather | LlamaindexGather | AnthropicGather
PEER_CLIENTS: dict[str, Callable[[PeerWork], SyncPeer | AsyncPeer]] = {
    "langchain-batch": LangchainBatch,
    "langchain-abatch": LangchainAbatch,
    "aioboto3": Aioboto3Gather,
    "llamaindex": LlamaindexGather,
    "anthropic-sdk": AnthropicGather,
}
# The module each peer imports (checked before a run: the `peers` group is optional).
PEER_MODULES: dict[str, str] = {
    "langchain-batch": "langchain_aws",
    "langchain-abatch": "langchain_aws",
    "aioboto3": "aioboto3",
    "llamaindex": "llama_index.llms.bedrock_converse",
    "anthropic-sdk": "anthropic",
}
# The distribution each peer comes from (its version goes into the run's metadata).
PEER_PACKAGES: dict[str, tuple[str, ...]] = {
    "langchain-batch": ("langchain-aws", "langchain-core"),
    "langchain-abatch": ("langchain-aws", "langchain-core"),
    "aioboto3": ("aioboto3", "aiobotocore"),
    "llamaindex": ("llama-index-llms-bedrock-converse", "llama-index-core"),
    "anthropic-sdk": ("anthropic",),
}
