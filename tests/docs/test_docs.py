"""The README and docs/*.md say what the code does: every claim that can be checked mechanically is.

What is read (markdown.py, beside this file): the inline code spans of every paragraph and table row (a table's
`\\|` read as `|`), the lines of fenced code blocks, the links, and the headings. Prose is never parsed.

What is checked, and how a claim is recognised:

- Command lines (commands.py, usage.py). A span or a shell-block line (block language none, sh, shell, bash or
  console) whose first word is `stationmaster` (after `$ `, `sudo `, `ssh [-t] HOST ` or `.venv/bin/`), or a
  span whose first word is a sub-command and whose second is a sub-command of it or a `--option`
  (`usb flash PORT --name N`), is walked through the real argparse parser, built in-process. Every
  sub-command and option must be one its `--help` lists; a lower-case word where a sub-command is expected
  must be one; a parser takes only as many positional words as it has arguments; `X...`/`X…` after a
  single-value option or argument is refused (repeat the option instead); a value of an option with
  choices must be one (upper-case words such as MAC or HH:MM are placeholders). Groups: `[…]`, `(…)`,
  alternatives ` | ` (spaced) inside them, `a|b` (unspaced) naming sub-commands or values. A span after
  ` / ` following a command span (and a ` / ` inside a shell line) is a sibling: a sub-command of the nearest
  command on the previous span's path that has it (`firmware import FILE` / `list`). A span that is an
  option alone (`--min-rssi`, `--admin USER`) must be an option of some command or of deploy/*.sh.
- Routes (routes.py). A span or block line `METHOD /path` (query dropped), or a bare path or URL whose first segment
  is one the apps route (`/ota/<mac>`, `http://stationmaster.local:8080/ota`), must be routed, for that
  method, by the app that serves it: `/v1/…` the admin API, anything else the station API (both read
  from a running service's routers). `{name}` and `<name>` are placeholders; a concrete example must match
  the route's pattern. A path ending in `/` names a family (`/api/v1/`) and is not checked.
- Settings (settings.py). deploy/stationmaster.toml (commented-out keys included) names every setting, each with its
  default (loaded through the real loader), and only variables and flags that exist. In the docs, a span
  `[section]`, `[section] key` or `[section] key = value`, or a unique setting name alone
  (`checkin_days`), names a real setting; `= value` must load, and equal the default when followed by
  "(the default"; a number right after the span, `(60 s)` or `, 5 minutes;`, is its default in the
  setting's unit (`_s` seconds, `_ms` milliseconds, `_days` days, dBm). Every `STATIONMASTER_*` named is
  read by the configuration.
- Paths (paths.py). Every relative link's file exists, and its `#anchor` is a heading there (GitHub's anchors); a span
  that is a repository path (its first segment a top-level entry: `tests/hostile/`, `.ci/run`,
  `tests/stock_clients.py::name`) exists (and defines `name`); a dotted name under appliance, services,
  tui or tests (`services.domain.health.raise_alert`, `-m tests.benchmarks.retention`) imports; each directory
  line of the layout block (`deploy/   …`) exists; and a repository script run directly (the first word of
  a shell line, or of a span that gives it arguments or `sudo `) is executable, in git's index too.

Each test prints how many claims it verified and fails under a floor, so that a change in how the docs
are written cannot make a check pass by finding nothing; `test_a_drifted_doc_fails` feeds each check a
doc that says untrue things and expects every one caught.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.cli.main import build_parser
from services.root.service import StationmasterService
from tests.conftest import make_settings
from tests.docs.commands import check_command_lines
from tests.docs.markdown import DOCS, ROOT, Document, read
from tests.docs.paths import check_paths
from tests.docs.report import Report
from tests.docs.routes import check_routes
from tests.docs.settings import check_example_config, check_settings_named

EXAMPLE_CONFIG = ROOT / "deploy" / "stationmaster.toml"


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    """README.md and docs/*.md, read."""
    return [read(path) for path in DOCS]


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    """The `stationmaster` command line's parser, as `main()` builds it."""
    return build_parser()


@pytest.fixture
async def apps(tmp_path: Path) -> AsyncIterator[StationmasterService]:
    """A running service, for its two apps' routers."""
    async with StationmasterService(make_settings(tmp_path)) as service:
        yield service


def holds(report: Report, what: str, floor: int) -> None:
    """No problem found, and at least `floor` claims verified (else the check found nothing to check)."""
    print(f"\ndocs: {len(report.checked)} {what} verified")
    assert report.problems == [], "\n".join(report.problems)
    assert len(report.checked) >= floor, f"only {len(report.checked)} {what} found: are the extraction rules stale?"


def test_every_command_line_shown_parses(docs: list[Document], parser: argparse.ArgumentParser) -> None:
    holds(check_command_lines(docs, parser), "sub-commands and options", 200)


async def test_every_route_listed_is_routed(docs: list[Document], apps: StationmasterService) -> None:
    station, admin = apps.applications
    holds(check_routes(docs, station, admin), "routes", 70)


def test_the_example_configuration_holds_every_setting_at_its_default(
    parser: argparse.ArgumentParser, tmp_path: Path
) -> None:
    holds(check_example_config(EXAMPLE_CONFIG, parser, tmp_path), "settings, variables and flags", 60)


def test_every_setting_named_exists_with_its_stated_default(docs: list[Document], tmp_path: Path) -> None:
    holds(check_settings_named(docs, tmp_path), "settings and variables", 15)


def test_every_path_link_and_module_named_exists(docs: list[Document]) -> None:
    holds(check_paths(docs), "paths, links, modules and execute bits", 30)


DRIFTED = """\
# A drifted doc

| command | what it does |
| --- | --- |
| `stationmaster rollout start IMAGE [--station MAC...]` | one MAC per --station |
| `stationmaster stations frobnicate MAC` | no such sub-command |
| `stationmaster backup --output-dir D` | no such option |
| `stationmaster firmware import FILE` / `export PREFIX` | no such sibling |

`stationmaster history MAC --by week`, `stationmaster status MAC`, `--no-such-flag`, `usb flash PORT --speed 9`.

`GET /v1/nothing`, `DELETE /v1/status`, `/ota/<mac>/extra`, `POST /api/v1/checkin/now`.

`[usb] checkin_wait_s`, 10 minutes; `[http] hots`; `[nosuch] key`; `STATIONMASTER_NOPE`;
`[http] port = "eighty"`; `[http] host = "10.0.0.1"` (the default); `weak_signal_dbm` (-70 dBm).

See [the contract](missing.md), [a heading](#no-such-heading), `tests/nowhere.py`, `tests/stock_clients.py::nothing`
and `services.domain.health.nothing`.

```sh
sudo deploy/common.sh --now
.venv/bin/python -m tests.benchmarks.nothing
```
"""

CAUGHT = (
    "`stationmaster rollout start --station` takes one value",
    "`stationmaster stations --help` lists no sub-command frobnicate",
    "`stationmaster backup --help` lists no option --output-dir",
    "'export' follows `stationmaster firmware import`",
    "`stationmaster history --by` does not take 'week'",
    "`stationmaster status` takes no further argument",
    "option --no-such-flag",
    "`stationmaster usb flash --help` lists no option --speed",
    "the admin API routes no /v1/nothing",
    "answers /v1/status to GET, HEAD, not DELETE",
    "the station API routes no /ota/<mac>/extra",
    "the station API routes no /api/v1/checkin/now",
    "[usb] checkin_wait_s's default is 300, not 10 minutes",
    "[http] has no key hots",
    "no section [nosuch]",
    "no setting is read from STATIONMASTER_NOPE",
    '[http] port = "eighty" is refused',
    "[http] host's default is '0.0.0.0', not \"10.0.0.1\"",
    "[health] weak_signal_dbm's default is -80, not -70 dBm",
    "missing.md does not exist",
    "has no heading #no-such-heading",
    "tests/nowhere.py does not exist",
    "tests/stock_clients.py defines no nothing",
    "services.domain.health has no nothing",
    "tests.benchmarks has no nothing",
    "deploy/common.sh is run directly but is not executable",
)


async def test_a_drifted_doc_fails(tmp_path: Path, parser: argparse.ArgumentParser, apps: StationmasterService) -> None:
    path = tmp_path / "drifted.md"
    path.write_text(DRIFTED)
    drifted = [read(path)]
    station, admin = apps.applications
    found = [
        *check_command_lines(drifted, parser).problems,
        *check_routes(drifted, station, admin).problems,
        *check_settings_named(drifted, tmp_path).problems,
        *check_paths(drifted).problems,
    ]
    missed = [claim for claim in CAUGHT if not any(claim in problem for problem in found)]
    assert missed == [], "\n".join(found)
    assert len(found) == len(CAUGHT), "\n".join(found)
