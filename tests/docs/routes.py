"""Routes the docs list, looked up in the running apps' routers (the rules: tests/docs/test_docs.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aiohttp import web

from tests.docs.markdown import Document
from tests.docs.report import Report

_METHOD_PATH = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*)")
_URL_PATH = re.compile(r"^https?://[^/\s]+(/\S*)$")
_PLACEHOLDER = re.compile(r"\{[^}]*\}|<[^>]*>")


def check_routes(docs: Sequence[Document], station: web.Application, admin: web.Application) -> Report:
    """Every `METHOD /path` (and every path or URL under a routed prefix) is routed by the app that serves it."""
    report = Report()
    resources = {"station": list(_resources(station)), "admin": list(_resources(admin))}
    prefixes = {_first_segment(r) for found in resources.values() for r in found}
    for doc in docs:
        mentions = [(s.where, s.text) for s in doc.spans] + [(b.where, b.text.strip()) for b in doc.block_lines]
        for where, text in mentions:
            method, path = _route(text, prefixes)
            if path is None:
                continue
            app = "admin" if path.startswith("/v1/") else "station"
            routed = [r for r in resources[app] if _matches(r, path)]
            methods = {route.method for r in routed for route in r}
            if not routed:
                report.bad(where, f"the {app} API routes no {path}")
            elif method is not None and method not in methods:
                report.bad(where, f"the {app} API answers {path} to {', '.join(sorted(methods))}, not {method}")
            else:
                report.ok(f"{method or 'any'} {path}")
    return report


def _route(text: str, prefixes: set[str]) -> tuple[str | None, str | None]:
    """(method or None, path without its query) if `text` names a route, else (None, None)."""
    method_path = _METHOD_PATH.match(text)
    if method_path:
        return method_path.group(1), method_path.group(2).split("?")[0]
    if " " in text:
        return None, None
    url = _URL_PATH.match(text)
    path = url.group(1) if url else text
    path = path.split("?")[0]
    # A bare path counts when its first segment is one the apps route (`/ota/<mac>`, not `/etc/…`), and it is
    # not a prefix written to name a family (`/api/v1/`).
    if path.startswith("/") and not path.endswith("/") and path.split("/")[1] in prefixes:
        return None, path
    return None, None


def _resources(app: web.Application) -> Iterable[web.AbstractResource]:
    for resource in app.router.resources():
        sub_app = resource.get_info().get("app")
        if isinstance(sub_app, web.Application):
            yield from _resources(sub_app)
        else:
            yield resource


def _first_segment(resource: web.AbstractResource) -> str:
    info = resource.get_info()
    return str(info.get("path") or info.get("formatter") or "/").split("/")[1]


def _matches(resource: web.AbstractResource, path: str) -> bool:
    info = resource.get_info()
    if "path" in info:
        return bool(info["path"] == path)
    formatter, pattern = info.get("formatter"), info.get("pattern")
    if formatter is None or pattern is None:
        return False
    if _PLACEHOLDER.sub("{}", path) == _PLACEHOLDER.sub("{}", str(formatter)):
        return True
    # A concrete example (`/ota/AA:BB:…`), or a placeholder written inside a segment (`/firmware/<sha256>.bin`).
    samples = ("1", "0a", "AA:BB:CC:DD:EE:FF")
    return any(pattern.fullmatch(_PLACEHOLDER.sub(sample, path)) for sample in samples)
