"""Hostile inputs for the local server's trust boundaries, as data the tests (and the fuzz suite)
can iterate: requests another web page makes with the session cookie, addresses that smuggle an
IPv4 address inside an IPv6 one, and answers to `/models` that aren't a models list."""

from __future__ import annotations

import json
from collections.abc import Iterator

# ---------------------------------------------------------------- requests from other pages

# What browsers send when another page starts the request. `same-site` is every other port of
# 127.0.0.1 (a dev server, a local tool's web page): ports don't make a different site.
CROSS_SITE_FETCH_SITES = ("cross-site", "same-site", "Cross-Site", "SAME-SITE", "bogus")
# What our own page and the user's own navigations send (or a client that isn't a browser).
OWN_FETCH_SITES = ("same-origin", "none", None)

# Routes a cookie-carrying request from another page must not reach, with a body when they take
# one. The preview is the attack of issue 22 (an <img> making an MCP server read a file).
COOKIE_ROUTES: tuple[tuple[str, str, bytes], ...] = (
    ("GET", "/api/entities/mcp:evil:file:///etc/hostname/preview", b""),
    ("GET", "/api/settings", b""),
    ("GET", "/api/session", b""),
    ("POST", "/chatkit", b'{"type": "threads.list", "params": {"limit": 5}}'),
    ("PUT", "/api/settings", b'{"theme": "dark"}'),
    ("POST", "/api/instance/focus", b""),
    ("POST", "/api/log", b'{"message": "from another page"}'),
)


def cross_site_headers() -> list[dict[str, str]]:
    """Header sets of subresource loads and navigations that another page starts."""
    sets = []
    for site in CROSS_SITE_FETCH_SITES:
        sets.append(
            {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
        )
        sets.append(
            {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
        )
    return sets


def foreign_origin_headers(port: int) -> list[dict[str, str]]:
    """A page on another port of 127.0.0.1 (same site, other origin), and the opaque origin."""
    return [
        {"Sec-Fetch-Site": "same-site", "Origin": f"http://127.0.0.1:{port + 1}"},
        {"Origin": f"http://localhost:{port + 1}"},
        {"Origin": "null"},
    ]


# ---------------------------------------------------------------- IPv4 inside IPv6

# Each carries 127.0.0.1, 10.0.0.1, 169.254.169.254 or 192.168.1.1 (or, for Teredo and NAT64's
# local-use prefix, is refused whatever it carries).
EMBEDDED_PRIVATE_IPV4 = (
    "::127.0.0.1",  # IPv4-compatible
    "::7f00:1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:0:7f00:1",  # IPv4-translated (SIIT)
    "64:ff9b::7f00:1",  # NAT64 well-known prefix
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::7f00:1",  # NAT64 local-use prefix, /96
    "64:ff9b:1:7f00:1::",  # the same prefix, /48 layout
    "64:ff9b:1:5db8:d7:e00::",  # ... even carrying a public address
    "2002:7f00:1::",  # 6to4
    "2002:c0a8:101::1",
    "2002:a9fe:a9fe::",
    "2001::7f00:1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
)

# The same forms carrying a public address (93.184.215.14): reachable, so allowed. DNS64 answers
# with such addresses for every IPv4-only site on an IPv6-only network.
EMBEDDED_PUBLIC_IPV4 = (
    "64:ff9b::5db8:d70e",
    "::ffff:93.184.215.14",
    "2002:5db8:d70e::1",
)


def embedded_ipv4_urls(port: int = 80) -> list[str]:
    """`read_web_page` URLs naming each embedded private address literally."""
    return [f"http://[{address}]:{port}/" for address in EMBEDDED_PRIVATE_IPV4]


# ---------------------------------------------------------------- answers to GET /models

# (name, content type, body): none is a models list the picker can use.
MALFORMED_MODELS_BODIES: tuple[tuple[str, str, bytes], ...] = (
    ("html", "text/html", b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"),
    ("html-as-json", "application/json", b"<html><body>Sign in</body></html>"),
    ("empty", "application/json", b""),
    ("truncated", "application/json", b'{"object": "list", "data": [{"id": "gpt'),
    ("list-at-top", "application/json", b'[{"id": "gpt-x"}]'),
    ("string", "application/json", b'"models"'),
    ("null", "application/json", b"null"),
    ("no-data", "application/json", b'{"object": "list"}'),
    ("data-null", "application/json", b'{"data": null}'),
    ("data-object", "application/json", b'{"data": {"id": "gpt-x"}}'),
    ("data-string", "application/json", b'{"data": "gpt-x"}'),
    ("data-empty", "application/json", b'{"data": []}'),
    ("items-without-ids", "application/json", b'{"data": [{"name": "gpt-x"}, {}, 3, null]}'),
    ("ids-not-strings", "application/json", b'{"data": [{"id": 7}, {"id": ["a"]}, {"id": null}]}'),
    (
        "ids-unusable",
        "application/json",
        json.dumps({"data": [{"id": ""}, {"id": "x" * 201}, {"id": "a\nb"}]}).encode(),
    ),
    ("deep", "application/json", b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("not-utf8", "application/json", b'{"data": [{"id": "\xff\xfe"}]}'),
    ("huge-number", "application/json", b'{"data": [{"id": ' + b"9" * 5000 + b"}]}"),
)

# More than the app reads of a models list (16 MB), sent until the client stops reading.
HUGE_MODELS_CHUNK = b'{"id": "' + b"m" * 4086 + b'"},'


def huge_models_body() -> Iterator[bytes]:
    """An endless models list: the app must stop reading, not run out of memory."""
    yield b'{"object": "list", "data": ['
    while True:
        yield HUGE_MODELS_CHUNK
