"""Exceptions raised by report_lib: one base, specific subclasses that say what to do.

Every error raised on purpose is a ``ReportLabError``; each also subclasses the built-in it
resembles, so ``except ValueError`` or ``except TimeoutError`` work for callers who never heard
of this package. Only the CLI turns them into exit codes (``report_lib.cli.main.EXIT_CODES``)::

    ReportLabError
    ├── ConfigError(ValueError)        an option or parameter that cannot work      exit 2
    │   └── UnknownChoiceError         a name not among the choices (language, kind) exit 2
    ├── DataError(ValueError)          input data missing or malformed              exit 2
    ├── CredentialsError(RuntimeError) no AWS credentials in the boto3 chain        exit 2
    ├── BackendError(RuntimeError)     an LLM call failed for good                  (per report)
    │   ├── ThrottledError             429 until the retry budget ran out
    │   ├── CallTimeoutError(TimeoutError)  connect/read timeouts used up the budget
    │   │   └── DeadlineExceeded       no answer within the report's deadline_s
    │   │       └── WaitPastDeadline   the rate limiter's wait would pass it
    │   ├── MalformedResponseError(ValueError)  bodies cut short/not Converse (retried)
    │   └── OversizeResponseError      an answer larger than maxTokens allows (refused)
    ├── EmulatorError(RuntimeError)    the local emulator did not start or stopped  exit 1
    └── PipelineError(RuntimeError)    a notebook of the pipeline failed            exit 1

    ReportLabWarning(UserWarning)
    ├── CacheWarning                   the response cache is read-only or turned off
    └── PriceWarning                   a model without a known price (its cost is None)

    KeyboardInterrupt
    └── RunInterrupted                 Ctrl-C or SIGTERM; carries the finished      exit 130/143
                                       results (not an Exception, on purpose)

A report that fails is listed under ``errors`` of the run (its type and message) and the run
exits 1; the other reports are kept.
"""

from __future__ import annotations

from typing import Any


class ReportLabError(Exception):
    """Base class of every error report_lib raises on purpose."""


class ReportLabWarning(UserWarning):
    """Base class of report_lib's warnings (shown on one line by the ``report-lib`` command)."""


class CacheWarning(ReportLabWarning):
    """The response cache is read-only or was turned off; answers are still delivered."""


class PriceWarning(ReportLabWarning):
    """A model has no known price; the cost of its calls is unknown (None)."""


class TransportWarning(ReportLabWarning):
    """The installed botocore lacks what the direct transport uses; Converse goes through
    botocore's own pipeline instead (as with ``--transport botocore``): slower, same answers."""


class ConfigError(ReportLabError, ValueError):
    """An option or parameter has a value that cannot work; the message names it and the choices."""


class UnknownChoiceError(ConfigError):
    """A name that is not among the choices: ``.value`` is it, ``.choices`` what is accepted."""

    def __init__(self, what: str, value: object, choices: tuple[str, ...]) -> None:
        super().__init__(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
        self.value = value
        self.choices = choices


class DataError(ReportLabError, ValueError):
    """Input data is missing or malformed; the message names file, row/column and value."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        column: str | None = None,
        row: int | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.column = column
        self.row = row
        self.value = value


class BackendError(ReportLabError, RuntimeError):
    """An LLM call failed for good (after retries, or at once for non-retryable errors)."""

    def __init__(
        self, message: str, *, error_type: str = "BackendError", attempts: int = 1
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.attempts = attempts


class ThrottledError(BackendError):
    """The endpoint kept throttling (HTTP 429) until the retry budget ran out."""


class CallTimeoutError(BackendError, TimeoutError):
    """A call did not finish within its connect/read timeout and retry budget."""


class DeadlineExceeded(CallTimeoutError):
    """A report had no answer within its deadline (all attempts and waits included)."""


class WaitPastDeadline(DeadlineExceeded):
    """The client-side rate limiter would make a call wait past its deadline.

    Raised by ``RateLimiter.acquire(tokens, max_wait_s=...)`` before any wait (the reservation
    is given back); a call's retry loop reports it as that call's DeadlineExceeded.
    """

    def __init__(self, wait_s: float, max_wait_s: float) -> None:
        super().__init__(
            f"the rate limiter would wait {wait_s:.2f} s but the deadline is {max_wait_s:.2f} s "
            "away; raise --deadline / deadline_s or the tokens-per-minute limit",
            error_type="DeadlineExceeded",
        )
        self.wait_s = wait_s
        self.max_wait_s = max_wait_s


class MalformedResponseError(BackendError, ValueError):
    """The endpoint answered a body that is not a whole Converse response (cut short, not JSON).

    Raised inside an attempt and retried like a 5xx; after the last attempt it is the error.
    """

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message, error_type="MalformedResponse", attempts=attempts)


class OutputError(ReportLabError, OSError):
    """A result could not be written (a full disk, say); ``rescued`` is the fallback file that
    holds the run and its delivered reports (None when none could be written)."""

    def __init__(self, message: str, *, rescued: Any = None) -> None:
        super().__init__(message)
        self.rescued = rescued

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OversizeResponseError(BackendError):
    """An answer far larger than its request's maxTokens allows: refused, not retried, never
    taken as a report (llm.wire.answer_cap_bytes)."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message, error_type="OversizeResponse", attempts=attempts)


class CredentialsError(ReportLabError, RuntimeError):
    """No AWS credentials were found in the standard boto3 chain."""


class EmulatorError(ReportLabError, RuntimeError):
    """The local Bedrock emulator did not start, or is not running; the message has its stderr."""


class PipelineError(ReportLabError, RuntimeError):
    """A notebook of the pipeline failed; carries the notebook and the failing cell's error."""

    def __init__(
        self,
        message: str,
        *,
        notebook: str | None = None,
        cell_index: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue


class RunInterrupted(KeyboardInterrupt):
    """A run was stopped by Ctrl-C (SIGINT) or SIGTERM before every report had finished.

    Deliberately a KeyboardInterrupt and not a ReportLabError (nor an Exception): an interrupt is
    the user's decision, and no ``except Exception`` on the way up may swallow it. ``signum`` is
    the signal (the CLI exits with 128 + signum: 130 or 143); ``results`` are the job results
    (finished reports kept, the others failed as ``Interrupted``) and ``run`` the RunResult when
    generate_reports built one, so callers can still write what was finished.
    """

    def __init__(
        self,
        message: str = "interrupted",
        *,
        signum: int = 2,
        results: list[Any] | None = None,
        run: Any = None,
    ) -> None:
        super().__init__(message)
        self.signum = signum
        self.results = results
        self.run = run
