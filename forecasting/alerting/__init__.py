"""Alerting: the rules (forecasts and observations to actions), the alert log and delivery channels."""
