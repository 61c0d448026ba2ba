"""``python -m report_lib.cli``."""

from __future__ import annotations

import sys

from report_lib.cli.main import main

sys.exit(main())
