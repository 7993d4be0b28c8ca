"""read_web_page: readable text from one page, and the limits that keep it safe (private
addresses, also after redirects; size; type; redirect count). The pages come from a real HTTP
server on 127.0.0.1, which the tests allow the way a user would, in Settings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from desktop.chat.web_fetch import MAX_BYTES, FetchRefused, check_address, fetch_page
from tests.support.fake_provider import FakeProvider, tool_outputs
from tests.support.hostile_requests import (
    EMBEDDED_PRIVATE_IPV4,
    EMBEDDED_PUBLIC_IPV4,
    embedded_ipv4_urls,
)
from tests.support.live import live_server

ARTICLE = b"""<html><head><title>Tide tables</title><script>var tracking = 1;</script>
<style>p { color: red }</style></head><body><nav>Home | Menu | Login</nav>
<h1>Tides at Porto</h1><p>High tide is at <b>06:12</b> today.</p><footer>Copyright</footer>
</body></html>"""


class Pages(BaseHTTPRequestHandler):
    port = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        routes = {
            "/article": (200, "text/html; charset=utf-8", ARTICLE),
            "/big": (200, "text/html", b"<p>" + b"x" * (MAX_BYTES + 100_000) + b"</p>"),
            "/image": (200, "image/png", b"\x89PNG...."),
            "/missing": (404, "text/html", b"gone"),
        }
        if self.path == "/to-localhost":
            self._redirect(f"http://localhost:{self.port}/article")
        elif self.path == "/loop":
            self._redirect("/loop")
        elif self.path == "/to-article":
            self._redirect("/article")
        else:
            status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _redirect(self, to: str) -> None:
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    Pages.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{Pages.port}"
    server.shutdown()
    server.server_close()


PRIVATE_ADDRESSES = (
    "127.0.0.1",
    "10.1.2.3",
    "192.168.1.5",
    "169.254.169.254",
    "::1",
    "fe80::1",
    "100.64.0.1",
    "::ffff:127.0.0.1",
    "0.0.0.0",
)


@pytest.mark.parametrize("address", PRIVATE_ADDRESSES + EMBEDDED_PRIVATE_IPV4)
def test_private_addresses_are_refused_unless_listed(address: str) -> None:
    with pytest.raises(FetchRefused, match="private network"):
        check_address(address, "example.test", 80, allowed=())
    check_address(address, "wiki.local", 8080, allowed=("wiki.local:8080",))
    check_address(address, "intranet", 80, allowed=("intranet",))


@pytest.mark.parametrize("address", ("93.184.215.14", "2606:4700::1111", *EMBEDDED_PUBLIC_IPV4))
def test_public_addresses_are_read(address: str) -> None:
    # DNS64 on an IPv6-only network answers 64:ff9b::<IPv4> for every IPv4-only site.
    check_address(address, "example.org", 443, allowed=())


@pytest.mark.parametrize("url", embedded_ipv4_urls(8080))
async def test_ipv4_inside_ipv6_urls_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(FetchRefused, match="private network"):
        await fetch_page(url)


async def test_limits(site: str) -> None:
    allowed = (site,)
    with pytest.raises(FetchRefused, match="private network"):
        await fetch_page(f"http://{site}/article")  # not listed
    with pytest.raises(FetchRefused, match="only http"):
        await fetch_page("file:///etc/passwd", allowed)
    with pytest.raises(FetchRefused, match="localhost is on this computer"):
        await fetch_page(f"http://{site}/to-localhost", allowed)  # checked again after a redirect
    with pytest.raises(FetchRefused, match="redirects"):
        await fetch_page(f"http://{site}/loop", allowed)
    with pytest.raises(FetchRefused, match="image/png"):
        await fetch_page(f"http://{site}/image", allowed)
    with pytest.raises(FetchRefused, match="404"):
        await fetch_page(f"http://{site}/missing", allowed)
    with pytest.raises(FetchRefused, match="could not be resolved"):
        await fetch_page("http://no-such-host.invalid/", allowed)
    big = await fetch_page(f"http://{site}/big", allowed)
    assert big.truncated and len(big.body) == MAX_BYTES
    moved = await fetch_page(f"http://{site}/to-article", allowed)
    assert moved.url == f"http://{site}/article" and b"Tides at Porto" in moved.body


def test_the_agent_reads_a_page_and_cites_it(
    tmp_path: Path, provider: FakeProvider, api: str, site: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "settings.json").write_text(json.dumps({"max_retries": 0, "web_allowed_hosts": [site]}))
    env = {
        "OPENAI_API_KEY": "sk-test-0123456789",
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_DESKTOP_API": api,
    }
    with live_server(data, env) as server:
        body = {"name": "Reader", "instructions": "Read.", "tools": ["read_web_page"]}
        reader = server.client.post("/api/assistants", content=json.dumps(body)).json()["id"]
        provider.call_tools(("read_web_page", {"url": f"http://{site}/article"}))
        provider.reply("High tide is at 06:12.")
        message = {
            "content": [{"type": "input_text", "text": "When is high tide?"}],
            "attachments": [],
            "inference_options": {"tool_choice": {"id": f"assistant:{reader}"}},
        }
        events = server.stream("threads.create", input=message)
    (output,) = tool_outputs(provider.chat_requests()[-1].body)
    assert "Tides at Porto" in output and "06:12" in output and "Page: Tide tables" in output
    assert "tracking" not in output and "Menu" not in output and "Copyright" not in output
    assert any(e["type"] == "progress_update" and "Reading 127.0.0.1" in e["text"] for e in events)
    (answer,) = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    (source,) = [a["source"] for a in answer["content"][0]["annotations"]]
    assert source["url"] == f"http://{site}/article" and source["title"] == "Tide tables"
