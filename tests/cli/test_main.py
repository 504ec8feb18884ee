"""The command line's shared behaviour: --version, strict ISO times, one-line errors, pipes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd
import pytest

from data_sources.http import DownloadError
from superstorm_cli import main as cli
from superstorm_cli.common import utc_time


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("superstorm ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-10", "2024-05-10 00:00"),
        ("2024-05-10T18:00", "2024-05-10 18:00"),
        ("2024-05-10 18:30:00", "2024-05-10 18:30"),
        ("2024-05-10T20:00+02:00", "2024-05-10 18:00"),
        ("2024-05-10T18:00Z", "2024-05-10 18:00"),
    ],
)
def test_iso_times_are_read_as_utc(text, expected):
    ts = utc_time(text)
    assert ts.tzinfo is None
    assert ts == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["05/10/2024", "10.05.2024", "May 10 2024", "2024-13-01"])
def test_ambiguous_or_invalid_dates_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="2024"):
        utc_time(text)


def test_month_first_date_on_the_command_line_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["backtest", "--start", "05/10/2024", "--end", "2024-06-01"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "'05/10/2024' is not an ISO 8601 UTC time" in err
    assert "YYYY-MM-DD" in err


def _parser_with(func):
    parser = argparse.ArgumentParser(prog="superstorm")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("boom").set_defaults(func=func)
    return parser


def test_download_failure_is_one_line(monkeypatch, capsys):
    def fail(args):
        raise DownloadError("GET https://example.invalid/omni2_2024.dat: HTTP 503 after 3 tries")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_with(fail))
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("superstorm boom: download failed: GET")
    assert "Traceback" not in err[0]


def test_download_failure_with_verbose_shows_the_traceback(monkeypatch):
    def fail(args):
        raise DownloadError("HTTP 503")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_with(fail))
    with pytest.raises(DownloadError):
        cli.main(["-v", "boom"])


def test_closed_pipe_exits_quietly():
    # `superstorm ... | head -1`: the reader closes after one line; no BrokenPipeError trace.
    code = (
        "import sys\n"
        "from superstorm_cli import main as cli\n"
        "import argparse\n"
        "def spam(args):\n"
        "    for i in range(200000):\n"
        "        print('line', i)\n"
        "p = argparse.ArgumentParser(prog='superstorm')\n"
        "p.add_argument('-v', '--verbose', action='store_true')\n"
        "s = p.add_subparsers(dest='command', required=True)\n"
        "s.add_parser('spam').set_defaults(func=spam)\n"
        "cli.build_parser = lambda: p\n"
        "sys.exit(cli.main(['spam']))\n"
    )
    proc = subprocess.run(
        f'{sys.executable} -c "{code}" | head -1',
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "line 0"
    assert "BrokenPipeError" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_lightning_run_lines_are_quiet_by_default():
    # Lightning resets its own logger when imported after the CLI configured logging
    code = (
        "from superstorm_cli.common import configure_logging\n"
        "configure_logging(False)\n"
        "from lightning.pytorch.utilities import rank_zero_info\n"
        "rank_zero_info('GPU available: False')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "GPU available" not in proc.stdout + proc.stderr
