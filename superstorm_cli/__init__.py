"""The ``superstorm`` command line."""
