"""Model registry: ``$SUPERSTORM_HOME/models/tft/<version>/``.

Each version folder holds

* ``checkpoint.pt``: the network ``state_dict``;
* ``hparams.pt``: the network hyper-parameters, which include pytorch-forecasting's
  ``dataset_parameters`` (order of inputs, fitted scalers and target normalisers);
* ``dataset_params.pt``: those ``dataset_parameters`` on their own;
* ``config.json``: the :class:`forecasting.models.tft.TFTConfig`;
* ``metadata.json``: training span, split, features, preset, code version, metrics, created,
  interpretation (variable importances, attention).

Versions are ``YYYYmmddTHHMMSS-<preset>``; ``current`` (a small text file, replaced
atomically) names the promoted version. Folders are written under a temporary name and renamed.
The ``.pt`` files are pickles written by this package: load only registries you trust.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch

from data_sources import config as ds_config
from forecasting.models.tft import TFTConfig, TFTModel, network_from_hparams

NAME = "tft"


def root(home: str | Path | None = None) -> Path:
    """``<home>/models/tft`` (home defaults to ``$SUPERSTORM_HOME`` or ``~/.superstorm``)."""
    return Path(home if home is not None else ds_config.home()) / "models" / NAME


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout, else the package version."""
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


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def list_versions(home: str | Path | None = None) -> list[str]:
    """Saved versions, oldest first (names sort by creation time)."""
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
    """Write ``model`` as a new version and return its name (never overwrites a version)."""
    base = root(home)
    base.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    version = version or f"{created:%Y%m%dT%H%M%S}-{model.config.preset}"
    final = base / version
    if final.exists():
        raise ValueError(f"model version {version!r} already exists in {base}; pick another name")
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{version}."))
    try:
        net = model.network
        torch.save(net.state_dict(), tmp / "checkpoint.pt")
        torch.save(dict(net.hparams), tmp / "hparams.pt")
        torch.save(net.hparams.dataset_parameters, tmp / "dataset_params.pt")
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
    """Merge ``updates`` into a version's ``metadata.json`` (atomic); return the result."""
    path = root(home) / version / "metadata.json"
    if not path.exists():
        raise ValueError(f"no model version {version!r} under {root(home)}")
    meta = json.loads(path.read_text())
    meta.update(updates)
    _atomic_write_text(path, json.dumps(meta, indent=2, default=str))
    return meta


def resolve(version: str = "latest", *, home: str | Path | None = None) -> str:
    """``latest`` -> newest version, ``current`` -> promoted one, else the name itself."""
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
        return cur
    if version not in versions:
        raise ValueError(f"unknown model version {version!r}; available: {versions}")
    return version


def load(version: str = "latest", *, home: str | Path | None = None) -> TFTModel:
    """Load a saved version (``latest``, ``current`` or a name) as a :class:`TFTModel`."""
    version = resolve(version, home=home)
    folder = root(home) / version
    config = TFTConfig.from_dict(json.loads((folder / "config.json").read_text()))
    hparams = torch.load(folder / "hparams.pt", weights_only=False)
    net = network_from_hparams(hparams, config.quantiles)
    net.load_state_dict(torch.load(folder / "checkpoint.pt", weights_only=True))
    net.eval()
    meta = json.loads((folder / "metadata.json").read_text())
    return TFTModel(network=net, config=config, version=version, metadata=meta)


def promote(version: str, *, home: str | Path | None = None) -> str:
    """Point ``current`` at ``version`` (atomic replace); return the version."""
    version = resolve(version, home=home)
    _atomic_write_text(root(home) / "current", version + "\n")
    return version


def current(home: str | Path | None = None) -> str | None:
    """The promoted version, or None."""
    path = root(home) / "current"
    if not path.exists():
        return None
    name = path.read_text().strip()
    return name or None
