"""What the docs say, read mechanically: code spans, fenced-block lines, links and heading anchors of
README.md and docs/*.md (the rules are in tests/docs/test_docs.py's docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))

SHELL = ("", "sh", "shell", "bash", "console")  # the fenced blocks whose lines are commands
_FENCE = re.compile(r"^(```+|~~~+)\s*(\S*)")
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class Span:
    """An inline code span: its text (a table's `\\|` read as `|`), where it is, and the prose around it."""

    where: str
    text: str
    before: str  # the prose between the previous span of the paragraph (or its start) and this one
    after: str  # the prose after it, up to the next span or the paragraph's end


@dataclass(frozen=True, slots=True)
class BlockLine:
    """One line of a fenced code block, and the block's language (empty when none is named)."""

    where: str
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    """One Markdown file, split into what the checks read."""

    path: Path
    spans: tuple[Span, ...]
    block_lines: tuple[BlockLine, ...]
    links: tuple[tuple[str, str], ...]  # (where, target) of every inline link
    anchors: frozenset[str]  # the GitHub anchors of its headings


def read(path: Path) -> Document:
    """Split one Markdown file into spans, fenced-block lines, links and anchors."""
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    prose: list[tuple[int, str]] = []
    blocks: list[BlockLine] = []
    headings: list[str] = []
    fence: str | None = None
    language = ""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence, language = opening.group(1), opening.group(2)
            prose.append((number, ""))  # a block ends the paragraph before it
            continue
        if fence is not None:
            if line.startswith(fence):
                fence = None
            else:
                blocks.append(BlockLine(f"{name}:{number}", language, line))
            continue
        prose.append((number, line))
        heading = _HEADING.match(line)
        if heading:
            headings.append(heading.group(1))
    spans: list[Span] = []
    links: list[tuple[str, str]] = []
    for first, paragraph in _paragraphs(prose):
        found = list(_SPAN.finditer(paragraph))
        for index, match in enumerate(found):
            start = found[index - 1].end() if index else 0
            end = found[index + 1].start() if index + 1 < len(found) else len(paragraph)
            at = first + paragraph.count("\n", 0, match.start())
            text = " ".join(match.group(1).replace("\\|", "|").split())
            spans.append(Span(f"{name}:{at}", text, paragraph[start : match.start()], paragraph[match.end() : end]))
        for match in _LINK.finditer(paragraph):
            links.append((f"{name}:{first + paragraph.count(chr(10), 0, match.start())}", match.group(1)))
    return Document(path, tuple(spans), tuple(blocks), tuple(links), frozenset(anchor(h) for h in headings))


def shell_command(line: str) -> str:
    """A shell line without its trailing `# comment`."""
    return re.sub(r"\s+#.*$", "", line)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, spans and links as their text, punctuation gone, spaces as -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _paragraphs(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph; a table row is a paragraph of its own."""
    found: list[tuple[int, str]] = []
    current: list[str] = []
    first = 0
    for number, line in lines:
        if not line.strip() or line.lstrip().startswith("|"):
            if current:
                found.append((first, "\n".join(current)))
                current = []
            if line.strip():
                found.append((number, line))
            continue
        if not current:
            first = number
        current.append(line)
    if current:
        found.append((first, "\n".join(current)))
    return found
