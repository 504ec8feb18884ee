"""One process-wide lock for netCDF/HDF5 access.

The HDF5 library under netCDF4 is not thread-safe: two threads of one process opening or
writing files at the same time can crash the interpreter (seen as a bus error when a Prefect
flow ran model tasks on its thread pool). Every module that opens or writes netCDF holds
:data:`NETCDF_LOCK` while it does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import xarray as xr

#: Re-entrant, so a function holding it may call another that takes it too.
NETCDF_LOCK = threading.RLock()


def write_netcdf_atomic(ds: xr.Dataset, path: str | Path, **to_netcdf_kwargs: Any) -> Path:
    """Write ``ds`` to ``path`` whole or not at all.

    A temporary file in the same folder is written under :data:`NETCDF_LOCK`, then :func:`os.replace`; on any failure the temporary
    file is removed and whatever ``path`` held before is untouched.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset to write.
    path : str or Path
        Target file; its folder is created if missing.
    **to_netcdf_kwargs
        Passed to :meth:`xarray.Dataset.to_netcdf` (``engine``, ``format``, ``encoding`` ...).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import os
    import tempfile
    from pathlib import Path

    from data_sources.cf import make_readable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        with NETCDF_LOCK:
            ds.to_netcdf(tmp, **to_netcdf_kwargs)
        make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(data: bytes | str, path: str | Path, *, mode: int = 0o644) -> Path:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` whole or not at all.

    A temporary file in the same folder is written, flushed to disk, given ``mode`` (readable
    by everyone by default, unlike :func:`tempfile.mkstemp`'s 0600) and renamed over ``path``
    with :func:`os.replace`; on any failure the temporary file is removed and whatever
    ``path`` held before is untouched.

    Parameters
    ----------
    data
        The bytes (or text) to store.
    path
        Destination file; its folder is created if missing.
    mode
        Permission bits of the written file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(path)
