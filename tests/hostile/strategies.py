"""Hostile values for hypothesis: text with surrogates and controls, numbers past every limit, broken encodings."""

from __future__ import annotations

import gzip
import json
import re
import urllib.parse
import zlib
from collections.abc import Callable, Mapping

from hypothesis import strategies as st

# Text a station or a script could send: any code point, lone surrogates and control characters included.
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)
# Values that have broken parsers before: digits int() reads but a database cannot hold, digits that are not
# ASCII, separators int() forgives, path tricks, direction overrides, lengths just past the limits.
tricky_text = st.sampled_from(
    [
        "",
        " ",
        "\ud800",
        "a\udfff",
        "\x00",
        "\u0663",
        "\u00b2",
        "1_000",
        " 12 ",
        "-1",
        "9" * 30,
        "9" * 5000,
        "0x10",
        "../../etc/passwd",
        "%00",
        "\u202e",
        "A" * 65,
        "A" * 257,
        "null",
        "\ufeff",
    ]
)
text_values = any_text | tricky_text
numbers = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from([2**31, 2**32, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, -1, 0])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | text_values,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text_values, inner, max_size=5),
    max_leaves=20,
)
# JSON text Python's json module accepts or nearly accepts, and that naive code then chokes on.
raw_fragments = st.sampled_from(
    [
        b"9" * 5000,
        b"-" + b"9" * 4400,
        b"1e99999",
        b"-1e99999",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b'"\\ud800"',
        b'"\\udfff\\ud800x"',
        b'"\\u0000"',
        b"[" * 3000 + b"]" * 3000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'"' + b"\\u0041" * 3000 + b'"',
        b"18446744073709551616",
        b"-9223372036854775809",
        b"1.0",
        b"true",
    ]
)
# Header values are bytes on the wire: anything but the line breaks that would end the header.
header_bytes = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")) | text_values.map(
    lambda t: t.encode("utf-8", "surrogatepass")[:6000].replace(b"\r", b"").replace(b"\n", b"")
)
path_segment = st.binary(max_size=40).map(lambda b: urllib.parse.quote(b, safe="")) | st.sampled_from(
    ["%ED%A0%80", "%FF", "..", "%2e%2e", "%2F", "a" * 300, "%00", "%C2%B2", "9" * 40, "-1", " "]
)
query_strings = st.dictionaries(
    st.sampled_from(["limit", "before", "mac", "kind", "station", "ssid", "override", "x", ""]), text_values, max_size=3
).map(lambda query: urllib.parse.urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()}))
ENCODINGS = ("plain", "gzip", "deflate", "broken-gzip", "broken-deflate", "br", "unknown", "chunked", "utf-16")


def json_text(value: object) -> bytes:
    """JSON as Python writes it (lone surrogates as \\u escapes, as a hostile client would send them)."""
    return json.dumps(value).encode()


def bodies(fields: Mapping[str, st.SearchStrategy[object]]) -> st.SearchStrategy[bytes]:
    """Bodies shaped like the real ones (these keys) with hostile values, raw fragments spliced in, or garbage."""
    shaped = st.fixed_dictionaries({}, optional={key: value | json_values for key, value in fields.items()})
    spliced = st.tuples(shaped, st.sampled_from(sorted(fields)), raw_fragments).map(_splice)
    return shaped.map(json_text) | spliced | json_values.map(json_text) | raw_fragments | st.binary(max_size=300)


def encode(body: bytes, encoding: str) -> tuple[list[tuple[bytes, bytes]], bytes, bool]:
    """(extra headers, body, chunked) for a body sent with `encoding`, well or badly."""
    transforms: dict[str, Callable[[bytes], tuple[list[tuple[bytes, bytes]], bytes]]] = {
        "plain": lambda b: ([], b),
        "gzip": lambda b: ([(b"Content-Encoding", b"gzip")], gzip.compress(b)),
        "deflate": lambda b: ([(b"Content-Encoding", b"deflate")], zlib.compress(b)),
        "broken-gzip": lambda b: ([(b"Content-Encoding", b"gzip")], gzip.compress(b)[: max(len(b) // 2, 3)] + b"x"),
        "broken-deflate": lambda b: ([(b"Content-Encoding", b"deflate")], b"\x00garbage" + b),
        "br": lambda b: ([(b"Content-Encoding", b"br")], b),
        "unknown": lambda b: ([(b"Content-Encoding", b"x-rot13, gzip")], b),
        "chunked": lambda b: ([], b),
        "utf-16": lambda b: ([(b"Content-Type", b"application/json; charset=utf-16")], _utf16(b)),
    }
    headers, encoded = transforms[encoding](body)
    return headers, encoded, encoding == "chunked"


def fill(template: str, values: Mapping[str, str]) -> str:
    """Put path values into a route template such as /ota/{mac}."""
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda match: values[match.group(1)], template)


def parameters(template: str) -> list[str]:
    """The names of a route template's path parameters."""
    return re.findall(r"\{(\w+)(?::[^}]*)?\}", template)


def _splice(parts: tuple[dict[str, object], str, bytes]) -> bytes:
    shaped, key, fragment = parts
    rest = json_text({k: v for k, v in shaped.items() if k != key})[1:-1]
    return b"{" + json_text(key) + b": " + fragment + (b", " + rest if rest else b"") + b"}"


def _utf16(body: bytes) -> bytes:
    try:
        return body.decode("utf-8").encode("utf-16")
    except UnicodeDecodeError:
        return body
