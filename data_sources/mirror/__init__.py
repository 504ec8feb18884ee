"""The loopback mirror: recorded data served under the upstream URL paths (tests, demo, air-gapped centres)."""
