"""The tree stays ruff-, mypy- and import-rule-clean; the TUI never loads the service side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this environment in the repository root."""
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_ruff_finds_nothing() -> None:
    result = run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    result = run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_import_rules_hold() -> None:
    result = run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_admin_contract_loads_no_service_module() -> None:
    probe = (
        "import sys, appliance.contract.client, appliance.config;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('services', 'tui', 'aiosqlite', 'esptool'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tui_loads_no_service_database_or_flashing_module() -> None:
    probe = (
        "import sys, tui.app;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('services', 'aiosqlite', 'esptool', 'zeroconf'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stdout + result.stderr


def test_serve_loads_neither_the_tui_nor_the_flasher_until_it_needs_them() -> None:
    # esptool and rich cost a Pi Zero 15 MiB: loaded when an image is first parsed or a board first talked to.
    probe = (
        "import sys, services.root.service, appliance.runtime;"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'tui', 'textual', 'rich', 'esptool', 'cryptography'});"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stdout + result.stderr
