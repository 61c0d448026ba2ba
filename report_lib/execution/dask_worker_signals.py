"""Imported by every Dask worker process this package starts (``preload``): Ctrl-C ignored.

A terminal's Ctrl-C reaches the whole foreground process group, the worker processes of a
LocalCluster included; each would print a KeyboardInterrupt traceback and die while the parent
is still deciding what to keep. As with the ``process`` strategy, the parent decides: it stops
its workers itself (report_lib.execution.dask.stop_own_processes). Nothing happens outside a
worker process's main thread.
"""

from __future__ import annotations

import signal
import threading

if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
