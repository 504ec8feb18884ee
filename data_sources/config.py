"""Where data comes from and where it is kept.

Base URLs default to the real upstream servers. Override them with

* ``SUPERSTORM_MIRROR=http://host:port`` — one mirror serving every source under the
  upstream URL paths (what the tests and the offline demo use), or
* ``SUPERSTORM_URL_<SOURCE>=...`` for one source (e.g. ``SUPERSTORM_URL_OMNI2``), or
* a TOML file ``$SUPERSTORM_HOME/config.toml`` with a ``[base_urls]`` table.

The store lives in ``$SUPERSTORM_HOME`` (default ``~/.superstorm``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

#: Upstream base URLs. The path part of each is kept when a mirror is used, so a mirror
#: serves ``<mirror>/<host>/<path>``; see :func:`base_url`.
UPSTREAM: dict[str, str] = {
    "omni2": "https://spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni",
    "kyoto_dst": "https://wdc.kugi.kyoto-u.ac.jp",
    "gfz_kp": "https://kp.gfz-potsdam.de/app",
    "swpc": "https://services.swpc.noaa.gov",
    "celestrak": "https://celestrak.org/SpaceData",
}


def home() -> Path:
    """The superstorm home folder (store, cache, model registry, archive)."""
    return Path(os.environ.get("SUPERSTORM_HOME", Path.home() / ".superstorm")).expanduser()


def reports_dir() -> Path:
    """Folder for skill reports (``$SUPERSTORM_HOME/reports``), never the current directory."""
    return home() / "reports"


def cache_dir() -> Path:
    """Folder for raw downloaded files (``$SUPERSTORM_HOME/cache``)."""
    return home() / "cache"


def _config_file() -> dict:
    path = home() / "config.toml"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def base_url(source: str) -> str:
    """The base URL for ``source``, after environment and config-file overrides.

    With ``SUPERSTORM_MIRROR=M`` the upstream ``https://host/path`` becomes ``M/host/path``,
    so one loopback server can stand in for every upstream host.
    """
    if source not in UPSTREAM:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(UPSTREAM))}")
    env = os.environ.get(f"SUPERSTORM_URL_{source.upper()}")
    if env:
        return env.rstrip("/")
    configured = _config_file().get("base_urls", {}).get(source)
    if configured:
        return str(configured).rstrip("/")
    mirror = os.environ.get("SUPERSTORM_MIRROR")
    if mirror:
        return mirror_url(mirror, UPSTREAM[source])
    return UPSTREAM[source]


def mirror_url(mirror: str, upstream: str) -> str:
    """Map an upstream URL onto a mirror root: ``https://h/p`` -> ``<mirror>/h/p``."""
    parts = urlsplit(upstream)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}".rstrip("/")
