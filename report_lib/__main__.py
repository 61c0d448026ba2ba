"""``python -m report_lib`` runs the CLI."""

from __future__ import annotations

import sys

from report_lib.cli.main import main

sys.exit(main())
