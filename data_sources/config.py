"""Where data comes from and where it is kept.

Base URLs default to the real upstream servers. Override them with

* ``SUPERSTORM_MIRROR=http://host:port`` — one mirror serving every source under the
  upstream URL paths (what the tests and the offline demo use), or
* ``SUPERSTORM_URL_<SOURCE>=...`` for one source (e.g. ``SUPERSTORM_URL_OMNI2``), or
* a TOML file ``$SUPERSTORM_HOME/config.toml`` with a ``[base_urls]`` table.

The same file configures the merged dataset and the year split::

    [dataset.priority]          # variable (or "solar_wind") -> store sources, best first
    dst = ["kyoto_dst", "local_omni2_stormai_csv", "omni2"]

    [split]                     # the full preset; [split.quick] the quick one
    train = "1998-2010"
    validate = "2011-2014"
    test = "2015-"

    [tft.quick]                 # TFT settings of a preset ([tft] the full one), e.g. a
    max_epochs = 1              # tiny, seconds-long training for smoke tests and CI
    limit_train_batches = 2

(:func:`dataset_priority`, :func:`split_years`, :func:`tft_overrides`; read by
:func:`data_sources.dataset.build_dataset`, :func:`forecasting.splits.configured_split` and
:func:`forecasting.models.train.train`).

The store lives in ``$SUPERSTORM_HOME`` (default ``~/.superstorm``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection
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
    """The superstorm home folder (store, cache, model registry, archive).

    Returns
    -------
    Path
        ``$SUPERSTORM_HOME`` (``~`` expanded), default ``~/.superstorm``; it need not exist.
    """
    return Path(os.environ.get("SUPERSTORM_HOME", Path.home() / ".superstorm")).expanduser()


def reports_dir() -> Path:
    """Folder for skill reports (``$SUPERSTORM_HOME/reports``), never the current directory.

    Returns
    -------
    Path
        ``home() / "reports"``; it need not exist.
    """
    return home() / "reports"


def cache_dir() -> Path:
    """Folder for raw downloaded files (``$SUPERSTORM_HOME/cache``).

    Returns
    -------
    Path
        ``home() / "cache"``; each source keeps its files in a sub-folder of its name.
    """
    return home() / "cache"


def _config_file() -> dict:
    path = home() / "config.toml"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path} is not valid TOML ({exc}); fix or remove the file") from None


def dataset_priority() -> dict[str, list[str]]:
    """The ``[dataset.priority]`` table of ``config.toml``: variable -> sources, best first.

    Returns
    -------
    dict
        Empty when the file or the table is absent. A key ``solar_wind`` stands for every
        solar-wind variable (:data:`data_sources.dataset.SOLAR_WIND`).

    Raises
    ------
    ValueError
        If the table is not a mapping of names to lists of source names.
    """
    table = _config_file().get("dataset", {}).get("priority", {})
    path = home() / "config.toml"
    if not isinstance(table, dict):
        raise ValueError(
            f"{path}: [dataset] priority must be a table of variable = [sources, best first], "
            f'e.g. [dataset.priority] dst = ["kyoto_dst", "omni2"]'
        )
    out: dict[str, list[str]] = {}
    for name, chain in table.items():
        if not isinstance(chain, list) or not all(isinstance(s, str) for s in chain):
            raise ValueError(
                f"{path}: [dataset.priority] {name} = {chain!r}; give a list of store sources, "
                f'e.g. {name} = ["omni2", "local_omni2_stormai_csv"]'
            )
        out[str(name)] = list(chain)
    return out


def split_years(preset: str = "full", presets: Collection[str] = ()) -> dict[str, str]:
    """The year split of ``preset`` in ``config.toml``: part -> year range text.

    ``[split]`` (or ``[split.full]``, which wins) holds the full preset's years and
    ``[split.quick]`` the quick preset's (keys ``train``, ``validate``, ``test``). Values
    are ``"1998-2012"``, ``"2015-"`` (open-ended) or ``"2007"``, parsed by
    :func:`forecasting.splits.parse_years`.

    Parameters
    ----------
    preset : str, optional
        ``"full"`` (default: the ``[split]`` table) or the name of a sub-table such as
        ``"quick"`` (``[split.quick]``).
    presets : Collection[str], optional
        The preset names: a sub-table named otherwise is refused (a typo such as
        ``[split.ful]`` would else be ignored). Empty: not checked.

    Returns
    -------
    dict
        Part -> text; empty when the file or the table is absent.

    Raises
    ------
    ValueError
        If a key is not train / validate / test, a sub-table is not one of ``presets``, or a
        value is not text.
    """
    path = home() / "config.toml"
    table = _preset_table("split", preset, presets, 'train = "1998-2012"')
    out: dict[str, str] = {}
    for part, years in table.items():
        if part not in ("train", "validate", "test"):
            raise ValueError(f"{path}: [split] {part} is unknown; use train, validate or test")
        if isinstance(years, int) and not isinstance(years, bool):
            years = str(years)
        if not isinstance(years, str):
            raise ValueError(f'{path}: [split] {part} = {years!r}; give text such as "1998-2012"')
        out[part] = years
    return out


def base_url(source: str) -> str:
    """The base URL for ``source``, after environment and config-file overrides.

    With ``SUPERSTORM_MIRROR=M`` the upstream ``https://host/path`` becomes ``M/host/path``,
    so one loopback server can stand in for every upstream host.

    Order: ``SUPERSTORM_URL_<SOURCE>``, then ``[base_urls]`` of ``config.toml``, then the
    mirror, then :data:`UPSTREAM`.

    Parameters
    ----------
    source : str
        A key of :data:`UPSTREAM` (``"omni2"``, ``"kyoto_dst"``, ``"gfz_kp"``, ``"swpc"``,
        ``"celestrak"``).

    Returns
    -------
    str
        The base URL, without a trailing ``/``.

    Raises
    ------
    KeyError
        If ``source`` is not in :data:`UPSTREAM`; the message lists the known ones.
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
    """Map an upstream URL onto a mirror root: ``https://h/p`` -> ``<mirror>/h/p``.

    Parameters
    ----------
    mirror : str
        Mirror root, e.g. ``"http://127.0.0.1:8765"``.
    upstream : str
        Upstream URL, e.g. ``"https://wdc.kugi.kyoto-u.ac.jp"``.

    Returns
    -------
    str
        ``<mirror>/<host>/<path>``, without a trailing ``/``.
    """
    parts = urlsplit(upstream)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}".rstrip("/")


def tft_overrides(preset: str = "full", presets: Collection[str] = ()) -> dict[str, object]:
    """Read the TFT settings of ``preset`` from ``config.toml``: field -> value.

    ``[tft]`` (or ``[tft.full]``, which wins) holds the full preset's settings and
    ``[tft.quick]`` the quick preset's; keys are :class:`forecasting.models.tft.TFTConfig`
    fields (``max_epochs``, ``hidden_size``, ``limit_train_batches`` ...), checked by
    :func:`forecasting.models.train.train`.

    Parameters
    ----------
    preset
        ``full`` or ``quick``.
    presets : Collection[str], optional
        The preset names: a sub-table named otherwise is refused. Empty: not checked.

    Returns
    -------
    dict
        Field -> value; empty when the file or the table is absent.

    Raises
    ------
    ValueError
        If ``[tft]`` or the preset's table is not a table, or a sub-table is not one of
        ``presets``.
    """
    return _preset_table("tft", preset, presets, "max_epochs = 20")


def _preset_table(
    section: str, preset: str, presets: Collection[str], example: str
) -> dict[str, object]:
    """The scalar settings of ``preset`` in ``[section]`` of ``config.toml``.

    The full preset reads the top-level keys of ``[section]`` and then ``[section.full]``
    (which wins); any other preset reads ``[section.<preset>]``. Sub-tables not in
    ``presets`` (when given) raise, naming the presets.
    """
    path = home() / "config.toml"
    table = _config_file().get(section, {})
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [{section}] must be a table, e.g. {example}")
    subtables = [k for k, v in table.items() if isinstance(v, dict)]
    stray = sorted(set(subtables) - set(presets)) if presets else []
    if stray:
        raise ValueError(
            f"{path}: [{section}.{stray[0]}] is not a preset; name one of {sorted(presets)} "
            f"([{section}] alone is the full preset)"
        )
    top = {k: v for k, v in table.items() if not isinstance(v, dict)}
    own = table.get(preset, {})
    if not isinstance(own, dict):
        raise ValueError(f"{path}: [{section}.{preset}] must be a table, e.g. {example}")
    own = {k: v for k, v in own.items() if not isinstance(v, dict)}
    return {**top, **own} if preset == "full" else own
