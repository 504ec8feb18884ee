"""Test and demo tooling: real-data examples for the dashboards and the headless-browser harness."""
