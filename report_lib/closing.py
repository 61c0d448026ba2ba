"""``Closing``: the context-manager boilerplate in one place (``with x:`` then ``x.close()``).

A class that holds something to release (a client, a child process, a sampling thread) writes
``close()``, and ``start()`` when entering a ``with`` block must begin something; ``with x as y``
gives ``y is x`` and calls ``x.close()`` on the way out, whatever happened inside.
"""

from __future__ import annotations

from typing import Self


class Closing:
    """Mixin: ``__enter__`` calls ``start()`` and returns self, ``__exit__`` calls ``close()``."""

    def start(self) -> None:
        """What ``with`` does on the way in: nothing unless a subclass says otherwise."""

    def close(self) -> None:
        """Release what the object holds; called by ``with`` on the way out."""
        raise NotImplementedError(f"{type(self).__name__} must define close()")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
