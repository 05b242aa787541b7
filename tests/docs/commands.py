"""Command lines the docs show, walked through the real parser (the rules: tests/docs/test_docs.py)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

from tests.docs import usage
from tests.docs.markdown import ROOT, SHELL, Document, Span, shell_command
from tests.docs.report import Report

PROGRAM = "stationmaster"
_PREFIXES = re.compile(r"^(?:\$\s+|sudo\s+|ssh\s+(?:-\w+\s+)*\S+\s+|\.venv/bin/)+")
_OPTION_SPAN = re.compile(r"^(--[a-z][\w-]*|-[a-zA-Z])(?=\s|=|$)")
_SCRIPT_OPTION = re.compile(r"^\s*((?:--[\w-]+\|)*--[\w-]+)\)", re.MULTILINE)


def check_command_lines(docs: Sequence[Document], parser: argparse.ArgumentParser) -> Report:
    """Every `stationmaster …` line (and `sub-command …` span) walks the real parser without a stray word."""
    report = Report()
    known = usage.all_options(parser) | _script_options()
    for doc in docs:
        previous: tuple[str, ...] | None = None
        for span in doc.spans:
            if previous is not None and span.before.strip() == "/":
                previous = _continue(parser, previous, span.text, span.where, report)
                continue
            previous = _command(parser, span.text, span.where, report, bare=True)
            if previous is None:
                _option_span(span, known, report)
        for line in doc.block_lines:
            if line.language not in SHELL:
                continue
            first, *more = shell_command(line.text).split(" / ")
            path = _command(parser, first, line.where, report, bare=False)
            for continuation in more:
                if path is not None:
                    path = _continue(parser, path, continuation, line.where, report)
    return report


def _command(
    parser: argparse.ArgumentParser, text: str, where: str, report: Report, *, bare: bool
) -> tuple[str, ...] | None:
    """Walk `text` if it is a command line of ours; the sub-command it ends in, or None if it is not one."""
    words = _PREFIXES.sub("", text.strip()).split()
    if words and words[0] == PROGRAM:
        return _walk(parser, (), " ".join(words[1:]), where, report)
    # A span such as `usb flash PORT --name N` names a sub-command without the program's name.
    if bare and len(words) >= 2 and usage.has_sub_command(parser, words[0]):
        child = usage.sub_command(parser, (words[0],))
        if words[1].startswith("--") or usage.has_sub_command(child, words[1].split("|")[0]):
            return _walk(parser, (), text, where, report)
    return None


def _continue(
    parser: argparse.ArgumentParser, path: tuple[str, ...], text: str, where: str, report: Report
) -> tuple[str, ...] | None:
    """A sibling after ` / ` (`firmware import FILE` / `list`): a sub-command of the nearest command that has it."""
    words = text.split()
    if not words:
        return path
    if words[0] == PROGRAM:
        return _command(parser, text, where, report, bare=False)
    for depth in range(len(path), -1, -1):
        if usage.has_sub_command(usage.sub_command(parser, path[:depth]), words[0].split("|")[0]):
            return _walk(parser, path[:depth], text, where, report)
    report.bad(where, f"{words[0]!r} follows `{' '.join((PROGRAM, *path))}` but is none of its sub-commands")
    return path


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...], text: str, where: str, report: Report
) -> tuple[str, ...]:
    walked = usage.walk(usage.sub_command(parser, path), path, text)
    for problem in walked.problems:
        report.bad(where, problem)
    report.checked.extend(walked.checked)
    return walked.path


def _option_span(span: Span, known: set[str], report: Report) -> None:
    """A span that is an option (`--min-rssi`, `--admin USER`) names one of ours or of deploy/*.sh."""
    option = _OPTION_SPAN.match(span.text)
    if option is None:
        return
    if option.group(1) in known:
        report.ok(option.group(1))
    else:
        report.bad(span.where, f"no command here (nor deploy/*.sh) has an option {option.group(1)}")


def _script_options() -> set[str]:
    found: set[str] = set()
    for script in (ROOT / "deploy").glob("*.sh"):
        for match in _SCRIPT_OPTION.finditer(script.read_text()):
            found.update(match.group(1).split("|"))
    return found
