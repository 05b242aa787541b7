"""The composition root stays small and whole: short functions, and nothing left unset once it runs."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from appliance.contract.client import AdminClient
from services.root.service import NotStarted, StartupError, StationmasterService
from tests.conftest import make_settings

ROOT_PACKAGE = Path(__file__).resolve().parent.parent / "services" / "root"
LONGEST = 60


def test_no_function_of_the_composition_root_is_over_60_lines() -> None:
    long = []
    for path in sorted(ROOT_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long


async def test_nothing_of_the_running_service_is_none(service: StationmasterService) -> None:
    unset = [name for name, value in vars(service).items() if value is None]
    assert not unset
    assert len(service.applications) == 2
    assert service.journal.registry is service.registry


async def test_a_start_refused_half_way_stops_what_it_started_and_leaves_the_running_service_alone(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path / "first")
    async with StationmasterService(settings) as first:
        tasks_before = asyncio.all_tasks()
        second = StationmasterService(make_settings(tmp_path / "second", admin_socket=settings.admin_socket))
        with pytest.raises(StartupError, match="already listening"):
            await second.start()
        assert asyncio.all_tasks() == tasks_before  # nothing of the second is left running
        with pytest.raises(NotStarted):
            _ = second.registry
        async with AdminClient(settings.admin_socket) as admin:  # the first one's socket is still its own
            assert (await admin.status())["station_port"] == first.station_port
