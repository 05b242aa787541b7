"""Paths, links, modules and scripts the docs name, looked for in the repository (rules: tests/docs/test_docs.py)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.docs.markdown import ROOT, SHELL, Document, read, shell_command
from tests.docs.report import Report

_REPO_PATH = re.compile(r"^(\.?[\w-]+(?:/[\w.*-]+)+/?|\.?[\w-]+/)(?:::(\w+))?$")
_MODULE = re.compile(r"^(?:appliance|services|tui|tests)(?:\.\w+)+$")
_RUN_MODULE = re.compile(r"\s-m\s+((?:appliance|services|tui|tests)(?:\.\w+)*)")
_LAYOUT_BLOCK_LINE = re.compile(r"^([a-z_]+/)\s{2,}\S")


def check_paths(docs: Sequence[Document]) -> Report:
    """Every repository path, link, anchor and module the docs name exists; scripts they run are executable."""
    report = Report()
    anchors = {doc.path.resolve(): doc.anchors for doc in docs}
    tops = {entry.name for entry in ROOT.iterdir()} - {".venv", ".git"}
    for doc in docs:
        for where, target in doc.links:
            _link(doc, where, target, anchors, report)
        for span in doc.spans:
            _path_or_module(span.where, span.text, tops, report)
            _invoked(span.where, span.text, report)
        for line in doc.block_lines:
            layout = _LAYOUT_BLOCK_LINE.match(line.text) if not line.language else None
            if layout:
                _exists(line.where, layout.group(1), None, report)
            if line.language in SHELL:
                command = shell_command(line.text)
                _invoked(line.where, command, report, shell=True)
                for module in _RUN_MODULE.findall(f" {command}"):
                    _importable(line.where, module, report)
    return report


def _link(doc: Document, where: str, target: str, anchors: dict[Path, frozenset[str]], report: Report) -> None:
    if re.match(r"^[a-z]+:", target):
        return  # a web address: not ours to check here
    file, _, fragment = target.partition("#")
    path = (doc.path.parent / file).resolve() if file else doc.path.resolve()
    if not path.exists():
        report.bad(where, f"the link's {file} does not exist")
        return
    if fragment:
        known = anchors.get(path)
        if known is None and path.suffix == ".md":
            known = read(path).anchors
        if known is not None and fragment not in known:
            report.bad(where, f"{file or doc.path.name} has no heading #{fragment}")
            return
    report.ok(target)


def _path_or_module(where: str, text: str, tops: set[str], report: Report) -> None:
    path = _REPO_PATH.match(text)
    if path and path.group(1).split("/")[0] in tops:
        _exists(where, path.group(1), path.group(2), report)
    elif _MODULE.match(text):
        _importable(where, text, report)
    for module in _RUN_MODULE.findall(f" {text}"):
        _importable(where, module, report)


def _exists(where: str, path: str, name: str | None, report: Report) -> None:
    found = sorted(ROOT.glob(path.rstrip("/"))) if "*" in path else [ROOT / path.rstrip("/")]
    if not found or not all(p.exists() for p in found):
        report.bad(where, f"{path} does not exist")
    elif name is not None and not re.search(
        rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b", found[0].read_text(), re.MULTILINE
    ):
        report.bad(where, f"{path} defines no {name}")
    else:
        report.ok(path)


def _importable(where: str, dotted: str, report: Report) -> None:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        thing: object = importlib.import_module(module_name) if cut < len(parts) else None
        for attribute in parts[cut:]:
            if not hasattr(thing, attribute):
                report.bad(where, f"{module_name} has no {'.'.join(parts[cut:])}")
                return
            thing = getattr(thing, attribute)
        report.ok(dotted)
        return
    report.bad(where, f"there is no module {dotted}")


def _invoked(where: str, text: str, report: Report, *, shell: bool = False) -> None:
    """A repository script run directly (`sudo deploy/install.sh …`) must carry its execute bit, in git too."""
    bare = re.sub(r"^(?:\$\s+|sudo\s+)+", "", text.strip())
    words = bare.split()
    if not words or "/" not in words[0] or words[0].startswith(("/", "~", ".venv/")):
        return
    if not (shell or bare != text.strip() or len(words) > 1 or words[0].startswith("./")):
        return  # a span naming the file, not running it
    script = ROOT / words[0].removeprefix("./")
    if not script.is_file():
        return  # not one of ours (`./flash.sh` lives in a bundle)
    if not os.access(script, os.X_OK):
        report.bad(where, f"{words[0]} is run directly but is not executable")
    elif _git_mode(script) not in (None, "100755"):
        report.bad(where, f"{words[0]} is executable here but not in git (git update-index --chmod=+x)")
    else:
        report.ok(f"{words[0]} +x")


def _git_mode(path: Path) -> str | None:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-s", str(path.relative_to(ROOT))],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout (an unpacked release): the file's own mode is all there is
    return listed.split()[0] if listed else None
