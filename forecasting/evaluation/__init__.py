"""Evaluation: skill reports on the test years and rolling-origin backtests."""
