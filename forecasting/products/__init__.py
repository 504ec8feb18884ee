"""SWPC-layout products written by every forecast run under ``$SUPERSTORM_HOME/products/``.

One module per product, each a pure function from the forecast, the observations known at
the issue time and the alert log's messages to text:

* :mod:`.three_day` — ``3-day-forecast.txt``, laid out like SWPC's *3-Day Forecast*
  (``services.swpc.noaa.gov/text/3-day-forecast.txt``), plus the storm-probability block of
  SWPC's *Geomagnetic Forecast* (``3-day-geomag-forecast.txt``).
* :mod:`.kp_json` — ``kp-forecast.json``, the layout of SWPC's
  ``products/noaa-planetary-k-index-forecast.json``.
* :mod:`.dst_json` — ``dst-forecast.json``, the same idea for Dst, with the forecast quantiles.
* :mod:`.alerts_json` — ``alerts.json``, the layout of SWPC's ``products/alerts.json``.

:func:`forecasting.products.write.write_products` renders all four and writes each whole or
not at all (:func:`data_sources.netcdf.write_bytes_atomic`).
"""
