"""Fetching one web page for the agent, safely: http(s) only, public addresses only (checked
after DNS resolution, for every redirect, and connected to the address that was checked, so a
name can't be re-pointed between the check and the connection), with size, time and redirect
limits. Addresses on this machine or the local network are refused unless the user listed their
host in Settings."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx2

MAX_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT_S = 15.0
READABLE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
USER_AGENT = "ChatKitDesktop/0.1 (read_web_page)"


class FetchRefused(Exception):
    """The page can't or mustn't be fetched; the message says why, for the model and user."""


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    content_type: str
    body: bytes
    truncated: bool


# IPv6 ranges that carry an IPv4 address, and where it sits (first bit, from the left). The
# network may route them to that IPv4 address (NAT64, a 6to4 relay, SIIT), so such an address is
# exactly as public as the IPv4 one: refusing them all would break every site on an IPv6-only
# network with DNS64, which answers with 64:ff9b::<public IPv4>.
_EMBEDDING_V4 = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), 96),  # IPv4-mapped
    (ipaddress.IPv6Network("::/96"), 96),  # IPv4-compatible (deprecated; also :: and ::1)
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), 96),  # IPv4-translated (SIIT)
    (ipaddress.IPv6Network("64:ff9b::/96"), 96),  # NAT64, well-known prefix
    (ipaddress.IPv6Network("2002::/16"), 16),  # 6to4
)
# Refused whatever they carry: NAT64's local-use prefix places the IPv4 address where the local
# network chooses (RFC 8215), and Teredo (RFC 4380) is a tunnel to a host behind a NAT.
_NEVER_PUBLIC = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("2001::/32"))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NEVER_PUBLIC):
            return False
        for net, start in _EMBEDDING_V4:
            if ip in net:
                embedded = (int(ip) >> (96 - start)) & 0xFFFFFFFF
                ip4 = ipaddress.IPv4Address(embedded)
                return ip4.is_global and not ip4.is_multicast
    return ip.is_global and not ip.is_multicast


def check_address(address: str, host: str, port: int, allowed: Collection[str]) -> None:
    """Refuse a non-public address unless its host (or host:port) is on the user's list."""
    if _public(address) or host in allowed or f"{host}:{port}" in allowed:
        return
    raise FetchRefused(
        f"{host} is on this computer or a private network ({address}); such addresses are "
        "only read when listed in Settings"
    )


async def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"the name {host} could not be resolved") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def fetch_page(url: str, allowed: Collection[str] = ()) -> Page:
    deadline = time.monotonic() + TIMEOUT_S
    async with httpx2.AsyncClient(
        timeout=TIMEOUT_S, follow_redirects=False, trust_env=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchRefused("only http:// and https:// addresses can be read")
            host = parts.hostname
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = await _resolve(host, port)
            for address in addresses:
                check_address(address, host, port, allowed)
            # Connect to the address just checked; the name still goes in Host and TLS SNI.
            pinned = f"[{addresses[0]}]" if ":" in addresses[0] else addresses[0]
            target = urlunsplit(
                (parts.scheme, f"{pinned}:{port}", parts.path or "/", parts.query, "")
            )
            headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": USER_AGENT}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchRefused(f"the page took longer than {TIMEOUT_S:g} s")
            try:
                async with asyncio.timeout(remaining):
                    request = client.build_request(
                        "GET", target, headers=headers, extensions={"sni_hostname": host}
                    )
                    response = await client.send(request, stream=True)
                    try:
                        if response.is_redirect and "location" in response.headers:
                            url = urljoin(url, response.headers["location"])
                            continue
                        return await _read(url, response)
                    finally:
                        await response.aclose()
            except TimeoutError as exc:
                raise FetchRefused(f"the page took longer than {TIMEOUT_S:g} s") from exc
            except httpx2.HTTPError as exc:
                raise FetchRefused(f"{host} could not be reached ({type(exc).__name__})") from exc
        raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")


async def _read(url: str, response: httpx2.Response) -> Page:
    if response.status_code >= 400:
        raise FetchRefused(f"the server answered {response.status_code}")
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind and kind not in READABLE_TYPES:
        raise FetchRefused(f"the page is {kind}, not a web page")
    body = bytearray()
    truncated = False
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_BYTES:
            truncated = True
            del body[MAX_BYTES:]
            break
    return Page(url=url, content_type=kind or "text/html", body=bytes(body), truncated=truncated)
