"""Prefect flows: orchestration only; the science lives in data_sources/ and forecasting/."""
