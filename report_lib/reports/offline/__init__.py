"""reports/offline."""
