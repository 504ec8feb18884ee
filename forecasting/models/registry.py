"""Model registry: ``$SUPERSTORM_HOME/models/tft/<version>/``.

Each version folder holds

* ``checkpoint.pt``: the network ``state_dict`` (tensors only, read with
  ``torch.load(weights_only=True)``);
* ``hparams.json``: the network hyper-parameters, which include pytorch-forecasting's
  ``dataset_parameters`` (order of inputs, fitted scalers and target normalisers), written by
  :mod:`forecasting.models.safe_state` (JSON; only allowlisted classes are rebuilt);
* ``dataset_params.json``: those ``dataset_parameters`` on their own;
* ``config.json``: the :class:`forecasting.models.tft.TFTConfig`;
* ``snapshot_<k>.pt`` (snapshot ensembles only, ``k`` = 1 ..): the further members'
  ``state_dict`` (tensors only, ``weights_only=True``);
* ``metadata.json``: training span, split, features, preset, code version, metrics, created,
  interpretation (variable importances, attention).

Versions are ``YYYYmmddTHHMMSS-<preset>``; ``current`` (a small text file, replaced
atomically) names the promoted version. Folders are written under a temporary name and renamed.

Safe loading: nothing in a registry can run code. Version names (given, or read from
``current``) must be one plain folder name of this registry, and the folder (after resolving
links) must lie inside it. Versions saved by older releases hold ``hparams.pt`` (a pickle):
:func:`load` converts it once with PyTorch's restricted unpickler and the same allowlist
(:func:`forecasting.models.safe_state.load_legacy_pickle`), writes ``hparams.json`` and never
reads the pickle again; a pickle that needs anything else is refused with a message telling
how to retrain.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import torch

from data_sources import config as ds_config
from data_sources.netcdf import write_bytes_atomic
from forecasting.models import safe_state
from forecasting.models.tft import TFTConfig, TFTModel, network_from_hparams

log = logging.getLogger(__name__)

NAME = "tft"
#: a version name: one folder name, no path separators, not hidden
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")


class UnsafeModelError(ValueError):
    """A registry entry was refused: a pointer outside the registry or an unsafe file."""


def _check_version_name(version: str, where: str) -> str:
    if not isinstance(version, str) or not _VERSION.match(version) or ".." in version:
        raise UnsafeModelError(
            f"model version {version!r} ({where}) is not a plain version name of the registry; "
            "expected something like 20240101T000000-quick"
        )
    return version


def version_folder(version: str, home: str | Path | None = None) -> Path:
    """Give the folder of ``version``, checked to lie inside the registry (links resolved).

    Parameters
    ----------
    version : str
        A plain version name (``20240101T000000-quick``), not ``latest``/``current``.
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    pathlib.Path
        ``<home>/models/tft/<version>`` (unresolved; it need not exist).

    Raises
    ------
    UnsafeModelError
        If the name is not a plain folder name or the folder resolves outside the registry.
    """
    _check_version_name(version, "requested")
    base = root(home)
    folder = base / version
    real_base = base.resolve()
    real = folder.resolve()
    if real.parent != real_base:
        raise UnsafeModelError(
            f"model version {version!r} resolves to {real}, outside the registry {real_base}; "
            "refusing to load it (remove the link and retrain or copy the model in)"
        )
    return folder


def root(home: str | Path | None = None) -> Path:
    """Give the registry folder ``<home>/models/tft``.

    Parameters
    ----------
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    pathlib.Path
        The registry folder (not created here).
    """
    return Path(home if home is not None else ds_config.home()) / "models" / NAME


def code_version() -> str:
    """Describe the code that trains a model: ``git describe --always --dirty --tags``.

    Returns
    -------
    str
        The checkout's ``git describe`` (e.g. ``v0.4-12-gabc1234-dirty``); where git or the
        checkout is missing, the installed ``superstorm`` package version, else ``"unknown"``.
    """
    here = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("superstorm")
        except PackageNotFoundError:
            return "unknown"


def list_versions(home: str | Path | None = None) -> list[str]:
    """List the saved versions, oldest first (names sort by creation time).

    Parameters
    ----------
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    list of str
        Version folder names that hold a ``metadata.json`` (hidden, half-written folders are
        skipped); empty when the registry does not exist.
    """
    base = root(home)
    if not base.is_dir():
        return []
    return sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "metadata.json").exists()
    )


def save(
    model: TFTModel,
    *,
    home: str | Path | None = None,
    version: str | None = None,
    metrics: dict | None = None,
) -> str:
    """Write ``model`` as a new version and return its name (never overwrites a version).

    The files (see the module docstring) are written to a hidden temporary folder that is
    renamed into place, so a failed save leaves nothing behind. ``model.version`` and
    ``model.metadata`` are updated to the saved ones.

    Parameters
    ----------
    model : TFTModel
        The trained model (network, config, metadata).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).
    version : str, optional
        Version name; ``None``: ``<UTC now as YYYYmmddTHHMMSS>-<preset>`` (the next free
        second when a model was saved in the same second).
    metrics : dict, optional
        Validation metrics stored in ``metadata.json``; ``None`` keeps
        ``model.metadata["metrics"]`` (or ``{}``).

    Returns
    -------
    str
        The version name.

    Raises
    ------
    ValueError
        If the version already exists.
    UnsafeModelError
        If ``version`` is not a plain version name (e.g. ``../x``).
    """
    base = root(home)
    base.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    auto, stamp = version is None, created
    version = version or f"{stamp:%Y%m%dT%H%M%S}-{model.config.preset}"
    while auto and version_folder(version, home).exists():  # two saves within one second
        stamp += timedelta(seconds=1)
        version = f"{stamp:%Y%m%dT%H%M%S}-{model.config.preset}"
    final = version_folder(version, home)
    if final.exists():
        raise ValueError(f"model version {version!r} already exists in {base}; pick another name")
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{version}."))
    try:
        net = model.network
        torch.save(net.state_dict(), tmp / "checkpoint.pt")
        for k, state in enumerate(model.snapshots, start=1):
            torch.save(state, tmp / f"snapshot_{k}.pt")
        (tmp / "hparams.json").write_text(safe_state.dumps(dict(net.hparams)))
        (tmp / "dataset_params.json").write_text(safe_state.dumps(net.hparams.dataset_parameters))
        (tmp / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2))
        meta = dict(model.metadata)
        meta.update(
            name=NAME,
            version=version,
            created=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            code_version=code_version(),
            metrics=metrics if metrics is not None else meta.get("metrics", {}),
        )
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=2, default=str))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.version = version
    model.metadata = meta
    return version


def update_metadata(version: str, updates: dict, *, home: str | Path | None = None) -> dict:
    """Merge ``updates`` into a version's ``metadata.json`` (atomic); return the result.

    Parameters
    ----------
    version : str
        A saved version name.
    updates : dict
        JSON-ready keys to set (replacing existing ones, e.g. ``metrics``, ``promotion``).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    dict
        The whole metadata after the update.

    Raises
    ------
    ValueError
        If the version has no ``metadata.json``.
    UnsafeModelError
        If ``version`` is not a plain version name (e.g. ``../x``).
    """
    path = version_folder(version, home) / "metadata.json"
    if not path.exists():
        raise ValueError(f"no model version {version!r} under {root(home)}")
    meta = json.loads(path.read_text())
    meta.update(updates)
    write_bytes_atomic(json.dumps(meta, indent=2, default=str), path)
    return meta


def resolve(version: str = "latest", *, home: str | Path | None = None) -> str:
    """Resolve ``latest`` to the newest version, ``current`` to the promoted one.

    Parameters
    ----------
    version : str, default "latest"
        ``"latest"``, ``"current"`` or a saved version name.
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    str
        A saved version name.

    Raises
    ------
    ValueError
        If the registry is empty, nothing is promoted (``current``), or the name is unknown.
    UnsafeModelError
        If the name is not a plain version name, or ``current`` names no saved version.
    """
    versions = list_versions(home)
    if not versions:
        raise ValueError(
            f"no trained TFT under {root(home)}; run `superstorm train --preset quick` first"
        )
    if version == "latest":
        return versions[-1]
    if version == "current":
        cur = current(home)
        if cur is None:
            raise ValueError("no promoted model; run registry.promote(version) first")
        if cur not in versions:
            raise UnsafeModelError(
                f"the registry's current pointer names {cur!r}, which is not a saved version "
                f"in {root(home)} (available: {versions}); promote a version again"
            )
        return cur
    _check_version_name(version, "requested")
    if version not in versions:
        raise ValueError(f"unknown model version {version!r}; available: {versions}")
    return version


def load(version: str = "latest", *, home: str | Path | None = None) -> TFTModel:
    """Load a saved version (``latest``, ``current`` or a name) as a :class:`TFTModel`.

    Only tensors (``torch.load(weights_only=True)``) and allowlisted JSON state are read; a
    legacy ``hparams.pt`` is converted once (module docstring).

    Parameters
    ----------
    version : str, default "latest"
        ``"latest"``, ``"current"`` or a saved version name (:func:`resolve`).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    TFTModel
        The network in eval mode with its config, version and metadata.

    Raises
    ------
    ValueError
        If the version cannot be resolved (:func:`resolve`).
    UnsafeModelError
        If the version folder or its state files are not safe or not valid.
    """
    version = resolve(version, home=home)
    folder = version_folder(version, home)
    config = TFTConfig.from_dict(json.loads((folder / "config.json").read_text()))
    hparams = _load_hparams(folder, version, config)
    net = network_from_hparams(hparams, config.quantiles)
    net.load_state_dict(torch.load(folder / "checkpoint.pt", weights_only=True))
    net.eval()
    meta = json.loads((folder / "metadata.json").read_text())
    snapshots = _load_snapshots(folder, version, config)
    return TFTModel(network=net, config=config, version=version, metadata=meta, snapshots=snapshots)


def _load_snapshots(folder: Path, version: str, config: TFTConfig) -> list:
    """The further snapshot-ensemble members ``snapshot_1.pt`` .. (tensors only)."""
    paths = [folder / f"snapshot_{k}.pt" for k in range(1, config.snapshots)]
    absent = [p.name for p in paths if not p.is_file()]
    if absent:
        raise UnsafeModelError(
            f"model version {version!r} is a {config.snapshots}-member snapshot ensemble but "
            f"lacks {absent}; retrain with `superstorm train --preset {config.preset}`"
        )
    return [torch.load(p, weights_only=True) for p in paths]


def _load_hparams(folder: Path, version: str, config: TFTConfig) -> dict:
    """``hparams.json`` (safe JSON); a legacy ``hparams.pt`` is converted once, safely."""
    path = folder / "hparams.json"
    retrain = f"`superstorm train --preset {config.preset}`"
    if not path.exists():
        legacy = folder / "hparams.pt"
        if not legacy.exists():
            raise UnsafeModelError(
                f"model version {version!r} has no hparams.json; retrain with {retrain}"
            )
        try:
            hparams = safe_state.load_legacy_pickle(legacy)
        except safe_state.UnsafeStateError as exc:
            raise UnsafeModelError(
                f"model version {version!r} was saved by an older superstorm as a pickle "
                f"(hparams.pt) that holds more than plain model state, so it is not loaded "
                f"({exc}); retrain with {retrain} (or delete {folder})"
            ) from None
        write_bytes_atomic(safe_state.dumps(dict(hparams)), path)
        log.warning("model %s: converted legacy hparams.pt to hparams.json (safe loader)", version)
    try:
        hparams = safe_state.loads(path.read_text())
    except (safe_state.UnsafeStateError, ValueError, KeyError, TypeError) as exc:
        raise UnsafeModelError(
            f"model version {version!r}: {path} is not a valid model state file ({exc}); "
            f"retrain with {retrain}"
        ) from None
    if not isinstance(hparams, dict):
        raise UnsafeModelError(f"model version {version!r}: {path} does not hold a mapping")
    return hparams


def promote(version: str, *, home: str | Path | None = None) -> str:
    """Point ``current`` at ``version`` (atomic replace); return the version.

    Parameters
    ----------
    version : str
        ``"latest"``, ``"current"`` or a saved version name (:func:`resolve`).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    str
        The promoted version name.
    """
    version = resolve(version, home=home)
    version_folder(version, home)
    write_bytes_atomic(version + "\n", root(home) / "current")
    return version


def current(home: str | Path | None = None) -> str | None:
    """Read the promoted version from the ``current`` pointer file.

    Parameters
    ----------
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``
        (:func:`data_sources.config.home`).

    Returns
    -------
    str or None
        The version name, or ``None`` when nothing is promoted (no or empty pointer).

    Raises
    ------
    UnsafeModelError
        If the pointer is a link or does not hold a plain version name.
    """
    path = root(home) / "current"
    if path.is_symlink():
        raise UnsafeModelError(
            f"{path} is a link; the current pointer must be a plain file in the registry: "
            "remove it and promote a version again"
        )
    if not path.exists():
        return None
    name = path.read_text()[:256].strip()
    if not name:
        return None
    return _check_version_name(name, f"named by {path}")
