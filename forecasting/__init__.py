"""Forecasting core: features, models (TFT and baselines), verification, alerts, backtests."""
