"""A command line as the docs write it (`stationmaster rollout start IMAGE [--tag T | --station MAC]...`)
walked through the real argparse parser: every sub-command and option must be one its `--help` lists."""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass, field, replace

# A spaced bar separates alternatives of a group; `a|b` (no spaces) is one word naming alternatives.
_TOKEN = re.compile(r"\s+\|\s+|[\[\]()]|[^\s\[\]()]+")
_ALT = "|"
_ELLIPSIS = re.compile(r"^(\.\.\.|…)+$")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_:-]*$")  # MAC, PREFIX, HH:MM-HH:MM: stands for a value
_WORD = re.compile(r"^[a-z][a-z-]*$")  # what a sub-command looks like


@dataclass
class Walk:
    """Where a walk through the parser tree stands, and what it found."""

    parser: argparse.ArgumentParser
    path: tuple[str, ...]
    taken: int = 0  # positional words taken by this parser so far
    pending: argparse.Action | None = None  # an option whose value comes next
    lost: bool = False  # past a word it could not place: what follows says nothing more
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # each sub-command and option found, as `path option`


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...], text: str) -> Walk:
    """Follow `text` (what comes after `stationmaster` and `path`) from `parser`; the walk's end."""
    state = Walk(parser, path)
    tree = _group(_TOKEN.findall(text.strip()))
    return _apply(tree, state)


def sub_command(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    """The parser of `stationmaster PATH...`."""
    for name in path:
        parser = _choices(parser)[name]
    return parser


def has_sub_command(parser: argparse.ArgumentParser, name: str) -> bool:
    """True if `name` is one of `parser`'s sub-commands."""
    return name in _choices(parser)


def all_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of this parser and of every sub-command under it."""
    found = set(parser._option_string_actions)
    for child in {id(p): p for p in _choices(parser).values()}.values():
        found |= all_options(child)
    return found


Tree = list["str | list[Tree]"]


def _group(tokens: list[str]) -> Tree:
    """Nest bracketed groups: a group is a list of alternatives, each a list of items."""
    stack: list[Tree] = [[]]
    for token in tokens:
        if token in ("[", "("):
            stack.append([])
        elif token in ("]", ")") and len(stack) > 1:
            inner = stack.pop()
            stack[-1].append(_alternatives(inner))
        else:
            stack[-1].append(token.strip() or _ALT)
    while len(stack) > 1:  # an unclosed bracket: take what is there
        inner = stack.pop()
        stack[-1].append(_alternatives(inner))
    top = stack[0]
    return [_alternatives(top)] if _ALT in top else top


def _alternatives(items: Tree) -> list[Tree]:
    alternatives: list[Tree] = [[]]
    for item in items:
        if item == _ALT:
            alternatives.append([])
        else:
            alternatives[-1].append(item)
    return alternatives


def _apply(tree: Tree, state: Walk) -> Walk:
    for item in tree:
        if isinstance(item, list):
            ends = [
                _apply(alternative, replace(state, problems=state.problems, checked=state.checked))
                for alternative in item
            ]
            # After a group the walk goes on where every alternative ended, else where the group began.
            if len({end.path for end in ends}) == 1:
                state = replace(ends[0], pending=None)
        else:
            _word(item, state)
    return state


def _word(word: str, state: Walk) -> None:
    where = " ".join(("stationmaster", *state.path))
    if _ELLIPSIS.match(word) or state.lost:
        return
    if state.pending is not None and not word.startswith("-"):
        _value(word, state.pending, state, where)
        state.pending = None
        return
    state.pending = None
    if word.startswith("-") and not re.match(r"^-\d", word):
        name = word.split("=", 1)[0]
        action = state.parser._option_string_actions.get(name)
        if action is None or action.help == argparse.SUPPRESS:
            state.problems.append(f"`{where} --help` lists no option {name}")
            state.lost = True
            return
        state.checked.append(f"{where} {name}")
        if action.nargs != 0 and "=" not in word:
            state.pending = action
        return
    choices = _choices(state.parser)
    names = word.split("|")
    if choices and (names[0] in choices or _WORD.match(names[0])):
        listed = _listed(state.parser)
        for name in names:
            if name not in listed:
                state.problems.append(f"`{where} --help` lists no sub-command {name}")
                state.lost = True
        if names[0] in choices:
            state.checked.extend(f"{where} {name}" for name in names if name in listed)
            state.parser, state.path, state.taken = choices[names[0]], (*state.path, names[0]), 0
        return
    capacity = _positionals(state.parser)
    if state.taken >= len(capacity):
        state.problems.append(f"`{where}` takes no further argument, but the docs give it {word!r}")
        return
    if _repeated(word) and capacity[state.taken] != math.inf:
        state.problems.append(f"`{where}`'s argument {word!r} is one value, not a list")
    if capacity[state.taken] != math.inf:
        state.taken += 1


def _value(word: str, action: argparse.Action, state: Walk, where: str) -> None:
    option = action.option_strings[-1]
    if _repeated(word) and action.nargs in (None, "?"):
        state.problems.append(f"`{where} {option}` takes one value: repeat {option} for each ({word!r})")
    if action.choices is not None and not _PLACEHOLDER.match(word):
        for value in word.rstrip(".…").split("|"):
            if value not in action.choices:
                state.problems.append(f"`{where} {option}` does not take {value!r} (it takes {sorted(action.choices)})")


def _repeated(word: str) -> bool:
    """`MAC...` or `MAC…`: a placeholder said to repeat (a value cut short, `ed25519:…`, is not)."""
    stem = word.rstrip(".…")
    return stem != word and bool(_PLACEHOLDER.match(stem))


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _listed(parser: argparse.ArgumentParser) -> set[str]:
    """The sub-commands `--help` lists (those given a help text), with their aliases."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            names = {choice.dest for choice in action._choices_actions}
            shown = [action.choices[name] for name in names]
            return {name for name, child in action.choices.items() if any(child is p for p in shown)}
    return set()


def _positionals(parser: argparse.ArgumentParser) -> list[float]:
    """How many words each positional argument takes (inf for a list), in order."""
    counts: list[float] = []
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        counts.append(math.inf if action.nargs in ("*", "+", argparse.REMAINDER) else 1)
    return counts
