"""One process-wide lock for netCDF/HDF5 access.

The HDF5 library under netCDF4 is not thread-safe: two threads of one process opening or
writing files at the same time can crash the interpreter (seen as a bus error when a Prefect
flow ran model tasks on its thread pool). Every module that opens or writes netCDF holds
:data:`NETCDF_LOCK` while it does.
"""

from __future__ import annotations

import threading

#: Re-entrant, so a function holding it may call another that takes it too.
NETCDF_LOCK = threading.RLock()
