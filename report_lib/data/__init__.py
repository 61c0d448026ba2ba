"""data: the canonical table of CPO statistics from ministry workbooks or tidy files.

``schema`` (names), ``values`` (cell parsing), ``workbook`` / ``tidy`` (readers), ``rows``
(records and checks), ``loader`` (``load_data``), ``sample`` (synthetic data and workbooks).
"""

from __future__ import annotations

from report_lib.data.loader import load_data

__all__ = ["load_data"]
