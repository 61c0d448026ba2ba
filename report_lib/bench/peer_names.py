"""The libraries a user would reach for instead of report-lib, as the benchmark names them."""

from __future__ import annotations

PEERS_SCENARIO = "peers"
# Each peer the way its own documentation runs parallel Bedrock calls.
PEER_NAMES: tuple[str, ...] = (
    "langchain-batch",  # langchain-aws ChatBedrockConverse.batch(..., max_concurrency=c)
    "langchain-abatch",  # ChatBedrockConverse.abatch(...)
    "aioboto3",  # one aioboto3 session, asyncio.gather over converse, a semaphore
    "llamaindex",  # llama-index-llms-bedrock-converse achat under asyncio.gather
    "anthropic-sdk",  # AsyncAnthropicBedrock messages.create (InvokeModel)
)
OUR_PEER_STRATEGIES: tuple[str, ...] = ("thread", "asyncio")  # ours, beside every peer
# warm: imports and client made before timing; cold: a fresh process, imports included;
# quota: warm, under a token quota (peers with their own retries, ours with the limiter)
PEER_VARIANTS: tuple[str, ...] = ("warm", "cold", "quota")
PEERS_N: tuple[int, ...] = (3, 100, 300)
