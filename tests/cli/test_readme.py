"""The README's commands run, in README order, on a fresh SUPERSTORM_HOME.

Every ``superstorm ...`` line of the README's ``bash`` blocks and its Python snippet run as a
user would type them, one after the other in one home, against the loopback mirror of the
recorded data (``../shared/data`` in a command is that folder). The home's ``config.toml``
shrinks the quick preset to the tiny test settings (``[tft.quick]``), so ``superstorm train``
trains a real (small) model in seconds. The only lines not run are
listed in :data:`NOT_RUN` with the reason; a README line that is neither run nor listed fails
the test, so the README cannot drift from what works.
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

#: README lines that are not run here, and why (matched as prefixes of the command).
NOT_RUN = {
    "make demo": "the demo is CI's other command; it runs the same steps as this test",
    "make test": "this test runs inside it",
    "superstorm train --preset full": "the full preset takes ~15 min on 2 cores (a benchmark)",
    "superstorm serve": "a long-running scheduler; tests/flows/test_deploy.py covers its deployments",
    "export ": "shell set-up for a local Prefect server",
    "prefect ": "needs a running Prefect server (UI); tests/flows cover the flows themselves",
}

#: README lines that need the live upstream servers: offline they must fail with this clear
#: one-line message (the recorded mirror holds no data for the current hour), exit status 2.
NEEDS_LIVE_DATA = {"superstorm forecast": "every source failed or is empty"}

#: README lines that start a server: run in the background, checked with one request, stopped.
SERVERS = {"superstorm dashboard serve": "http://127.0.0.1:{port}/"}


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block of the README, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S)]


def bash_commands(body: str) -> list[str]:
    """The commands of a bash block: comments dropped, ``\\`` continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def readme_steps() -> list[tuple[str, str]]:
    """``("bash", command)`` and ``("python", code)`` steps in README order."""
    steps = []
    for lang, body in readme_blocks(README.read_text()):
        if lang == "bash":
            steps += [("bash", c) for c in bash_commands(body)]
        elif lang == "python":
            steps.append(("python", body))
    return steps


def _skipped(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in NOT_RUN)


def test_every_readme_line_is_run_or_explained():
    for kind, step in readme_steps():
        if kind == "bash":
            assert step.startswith("superstorm ") or _skipped(step), (
                f"README command {step!r} is neither run by this test nor listed in NOT_RUN"
            )


def _argv(command: str, data_dir: Path) -> list[str]:
    words = shlex.split(command.replace("../shared/data", str(data_dir)))
    assert words[0] == "superstorm"
    return [sys.executable, "-m", "superstorm_cli.main", *words[1:]]


def _run_server(argv: list[str], url: str, env: dict, cwd: Path) -> None:
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    assert resp.status == 200
                    return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out, err = proc.communicate(timeout=10)
                    raise AssertionError(
                        f"{argv} did not serve {url}: {err.decode()[-2000:]}"
                    ) from None
                time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def tiny_training(home: Path, settings: dict) -> None:
    """Write ``home/config.toml`` with a ``[tft.quick]`` table of ``settings``.

    The README's ``superstorm train --preset quick`` honours it (the documented
    ``config.toml`` TFT settings, :func:`data_sources.config.tft_overrides`): the model is
    trained, registered, evaluated and forecasts like the quick one, in seconds instead of
    minutes.
    """
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[tft.quick]", *(f"{k} = {v!r}" for k, v in settings.items())]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_readme_commands_run_in_order(tmp_path, mirror, data_dir, tiny_tft):
    tiny_training(tmp_path / "home", tiny_tft)
    env = dict(os.environ)
    env.update(
        SUPERSTORM_HOME=str(tmp_path / "home"),
        SUPERSTORM_MIRROR=mirror.url,
        SUPERSTORM_DATA=str(data_dir),
        PYTHONPATH=str(REPO),
        OMP_NUM_THREADS="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    work = tmp_path / "work"
    work.mkdir()
    ran: list[str] = []

    def done(name: str) -> None:  # record the step; print its wall and CPU s (pytest -s)
        ran.append(name)
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = cpu.ru_utime + cpu.ru_stime - cpu_started
        print(f"{time.perf_counter() - started:6.1f} s wall {cpu_s:6.1f} s CPU  {name[:70]}")

    for kind, step in readme_steps():
        started = time.perf_counter()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_started = cpu.ru_utime + cpu.ru_stime
        if kind == "python":
            code = step.replace("../shared/data", str(data_dir))
            proc = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=work,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert proc.returncode == 0, f"README python block failed:\n{proc.stderr[-3000:]}"
            done("python block")
            continue
        if _skipped(step):
            continue
        argv = _argv(step, data_dir)
        server = next((u for prefix, u in SERVERS.items() if step.startswith(prefix)), None)
        if server is not None:
            port = re.search(r"--port (\d+)", step)
            _run_server(argv, server.format(port=port[1] if port else 8050), env, work)
            done(step)
            continue
        proc = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, timeout=900)
        if step in NEEDS_LIVE_DATA:
            assert proc.returncode == 2 and NEEDS_LIVE_DATA[step] in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr
            done(step)
            continue
        assert proc.returncode == 0, (
            f"README command {step!r} exited {proc.returncode}:\n"
            f"{proc.stdout[-1500:]}\n{proc.stderr[-3000:]}"
        )
        done(step)
    assert any(s.startswith("superstorm forecast") for s in ran)
    assert any(s.startswith("superstorm train") for s in ran)
