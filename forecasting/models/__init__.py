"""Forecasters: the Temporal Fusion Transformer, its input pipeline and registry, the baselines and the ring-current physics models."""
