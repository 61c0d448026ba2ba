"""The offline writer (a report from the facts alone) and the ``offline`` backend using it."""
