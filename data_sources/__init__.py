"""Data sources: download (``get_*``) and parse (``parse_*``) solar-wind and geomagnetic records.

Every source returns an :class:`xarray.Dataset` with one ``time`` dimension (UTC, start of the
averaging interval), variables named in the canonical vocabulary (:mod:`data_sources.vocabulary`)
and the attributes ``source``, ``source_url``, ``cadence`` and ``retrieved``.
"""

from data_sources.redact import quiet_http_loggers

quiet_http_loggers()
