"""Plotly dashboards: a static site built from forecasts, observations, alerts and metrics."""
