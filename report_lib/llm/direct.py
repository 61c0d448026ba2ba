"""Converse without botocore's request pipeline: the ``direct`` transport (the default).

botocore spends most of a Converse call's client CPU on its generic machinery: a dozen events
per call, the endpoint rules evaluated per request, the serializer's and the parser's walk over
the service model. For the one request report_lib sends, ``DirectConverse`` (sync) and
``AsyncDirectConverse`` (asyncio) do only what reaches the wire, with botocore's own parts:

- the body: ``json.dumps`` of wire.build_request without ``modelId``, which goes in the path
  percent-encoded as botocore encodes a URI label (``botocore.utils.percent_encode``);
- the headers and signature: ``botocore.auth.SigV4Auth`` over a ``botocore.awsrequest.AWSRequest``
  with the client's credentials (``get_frozen_credentials()`` per request, so refreshable
  credentials refresh), signing name, region, resolved endpoint and User-Agent, and the
  ``amz-sdk-*`` headers botocore adds; the same bytes botocore sends (tests/llm/test_direct.py);
- the send: the botocore client's own HTTP session (urllib3's PoolManager for the sync client,
  aiohttp's ClientSession for aiobotocore's), so the pool size, the connect and read timeouts,
  HTTPS_PROXY/NO_PROXY, AWS_CA_BUNDLE and the exceptions raised for resets, timeouts and
  refused connections are botocore's;
- the answer: wire.check_converse_body (the check the botocore transport runs on ``before-parse``),
  then ``json.loads`` (plus botocore's ``ResponseMetadata``); an error answer is parsed by
  botocore's rest-json parser and raised as the client's own ClientError subclass, as botocore
  raises it.

ConverseStream, and every other attribute, is the wrapped botocore client's. With
``retry_mode="adaptive"`` the botocore transport is used (its client-side rate limiter lives in
botocore's pipeline): see ``uses_direct``.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.exceptions import NoCredentialsError
from botocore.parsers import create_parser
from botocore.utils import percent_encode

from report_lib.errors import TransportWarning
from report_lib.llm import wire

if TYPE_CHECKING:
    from report_lib.llm.settings import BackendSettings

OPERATION = "Converse"


def uses_direct(settings: BackendSettings) -> bool:
    """Whether Converse goes through the direct transport: ``transport="direct"`` and not
    botocore's adaptive retry mode (whose client-side rate limiter is part of botocore's
    pipeline)."""
    return settings.transport == "direct" and settings.retry_mode != "adaptive"


def with_direct_converse(client: Any, settings: BackendSettings, kind: type[Any]) -> Any:
    """``client`` with its ``converse`` on the direct path (``kind``: DirectConverse or
    AsyncDirectConverse) when ``uses_direct(settings)``; ``client`` itself otherwise, and when
    this botocore lacks one of the internals the direct path reads (a TransportWarning says so:
    the call then goes through botocore's pipeline, as with ``--transport botocore``)."""
    if not uses_direct(settings):
        return client
    try:
        return kind(client, settings)
    except AttributeError as exc:
        warnings.warn(
            f"the direct Converse transport needs {exc.name or 'an attribute'!s} of botocore's "
            "client, which this botocore lacks; sending through botocore's pipeline "
            "(--transport botocore) instead", TransportWarning, stacklevel=2)
        return client


class ConverseWire:
    """What a Converse request and its answer look like on the wire, for one botocore client
    (sync or aiobotocore): no I/O here."""

    def __init__(self, client: Any, settings: BackendSettings) -> None:
        meta = client.meta
        self.endpoint = str(meta.endpoint_url).rstrip("/")
        self.region = meta.region_name
        self.signing_name = meta.service_model.signing_name or meta.service_model.endpoint_prefix
        self.credentials = client._request_signer._credentials  # what botocore signs with
        if self.credentials is None:  # botocore would raise this when signing
            raise NoCredentialsError()
        creator = getattr(client, "_user_agent_creator", None)
        self.user_agent = creator.to_string() if creator is not None else wire.user_agent()
        self.output_shape = meta.service_model.operation_model(OPERATION).output_shape
        self.exceptions = client.exceptions
        self.check = wire.check_converse_body(settings)
        self._paths: dict[str, str] = {}

    def url(self, model_id: str) -> str:
        path = self._paths.get(model_id)
        if path is None:
            path = self._paths[model_id] = (
                f"{self.endpoint}/model/{percent_encode(model_id)}/converse")
        return path

    def signed(self, request: Mapping[str, Any], frozen: Any) -> AWSPreparedRequest:
        """The prepared request botocore would send for ``converse(**request)``, signed with
        ``frozen`` credentials."""
        body = {key: value for key, value in request.items() if key != "modelId"}
        aws = AWSRequest(
            method="POST", url=self.url(request["modelId"]), data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "User-Agent": self.user_agent},
        )
        SigV4Auth(frozen, self.signing_name, self.region).add_auth(aws)
        # added after signing, unsigned, as botocore's retry handler adds them (one attempt
        # per call: report_lib.llm.retry owns the retries)
        aws.headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        aws.headers["amz-sdk-request"] = "attempt=1"
        return aws.prepare()

    def answer(self, status: int, headers: Any, body: bytes) -> dict[str, Any]:
        """The dict botocore's ``converse`` returns, or the ClientError it raises."""
        response = {"status_code": status, "headers": headers, "body": body}
        self.check(response)  # a 200 body cut short, not JSON or oversize: named and raised
        if status >= 300:
            parsed = create_parser("rest-json").parse(response, self.output_shape)
            code = parsed.get("Error", {}).get("Code")
            raise self.exceptions.from_code(code)(parsed, OPERATION)
        result: dict[str, Any] = json.loads(body)
        lowered = {str(key).lower(): str(value) for key, value in headers.items()}
        result["ResponseMetadata"] = {
            "RequestId": lowered.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "HTTPHeaders": lowered,
            "RetryAttempts": 0,
        }
        return result


class DirectConverse:
    """A sync botocore ``bedrock-runtime`` client whose ``converse`` takes the direct path;
    everything else (``converse_stream``, ``meta``, ``close``) is the client's."""

    def __init__(self, client: Any, settings: BackendSettings) -> None:
        self.client = client
        self.wire = ConverseWire(client, settings)
        self.http = client._endpoint.http_session  # botocore's urllib3 session: pool, proxies

    def converse(self, **request: Any) -> dict[str, Any]:
        frozen = self.wire.credentials.get_frozen_credentials()
        response = self.http.send(self.wire.signed(request, frozen))
        return self.wire.answer(response.status_code, response.headers, response.content)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class AsyncDirectConverse:
    """An aiobotocore ``bedrock-runtime`` client whose ``converse`` takes the direct path;
    everything else is the client's."""

    def __init__(self, client: Any, settings: BackendSettings) -> None:
        self.client = client
        self.wire = ConverseWire(client, settings)
        self.http = client._endpoint.http_session  # aiobotocore's aiohttp session

    async def converse(self, **request: Any) -> dict[str, Any]:
        frozen = await self.wire.credentials.get_frozen_credentials()
        response = await self.http.send(self.wire.signed(request, frozen))
        body = await response.content
        return self.wire.answer(response.status_code, response.headers, body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
