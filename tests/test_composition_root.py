"""The composition root stays small and whole: short functions, and nothing left unset once it runs."""

from __future__ import annotations

import ast
from pathlib import Path

from services.root.service import StationmasterService

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
