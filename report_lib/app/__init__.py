"""The application: one report run end to end (generate_reports), its outputs and signals."""
