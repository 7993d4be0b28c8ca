"""The real window: Qt under Xvfb, launched as a user would, then closed as a user would."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from Xlib import X, display, protocol

from tests.support.fake_provider import FakeProvider
from tests.support.xvfb import start_xvfb

pytestmark = pytest.mark.window

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("CHATKIT_ARTIFACTS", ROOT / "artifacts"))


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    proc, screen = start_xvfb()
    yield screen
    proc.terminate()
    proc.wait(timeout=10)


class App:
    def __init__(self, data_dir: Path, screen: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DISPLAY": screen, **(env or {})},
        )

    def wait_ready(self, timeout: float = 60) -> float:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if match := re.search(r"window is ready \(page loaded ([\d.]+) s", line):
                return float(match.group(1))
        self.proc.kill()
        _, err = self.proc.communicate()
        raise AssertionError(f"the window never loaded the app: {err[-3000:]}")

    def wait_for_line(self, text: str, timeout: float = 120) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if text in line:
                return line
        self.proc.kill()
        _, err = self.proc.communicate()
        raise AssertionError(f"the app never said {text!r}: {err[-3000:]}")

    def close_until_gone(self, screen: str, timeout: float = 90) -> None:
        """Close the window as a user does. A close that lands while the toolkit is still busy
        (a loaded machine) can go unheard, as a person's first click might: close again until
        the app has gone; its exit is the signal, not a time."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(AssertionError):
                close_like_a_user(screen)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=3)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err


def find_window(screen: str, title: str) -> tuple[display.Display, object]:
    d = display.Display(screen)
    pending = [d.screen().root]
    while pending:
        window = pending.pop()
        name = window.get_wm_name()
        if name == title:
            return d, window
        pending.extend(window.query_tree().children)
    raise AssertionError(f"no window titled {title!r}")


def close_like_a_user(screen: str, title: str = "ChatKit Desktop") -> None:
    """Send WM_DELETE_WINDOW, which is what a window manager does for the close button."""
    d, window = find_window(screen, title)
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    event = protocol.event.ClientMessage(
        window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
    )
    window.send_event(event)  # type: ignore[attr-defined]
    d.flush()
    d.close()


def screenshot(screen: str, name: str) -> Path:
    """Save the screen once the window has painted (a just-mapped window can still be black)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    deadline = time.monotonic() + 20
    while True:
        subprocess.run(
            ["import", "-display", screen, "-window", "root", str(shot)], check=True, timeout=30
        )
        colors = subprocess.run(
            ["identify", "-format", "%k", str(shot)],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        if int(colors) > 16 or time.monotonic() > deadline:
            return shot
        time.sleep(0.3)


def processes_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_window_opens_loads_and_closes_cleanly(
    xvfb: str, tmp_path: Path, provider: FakeProvider
) -> None:
    data = tmp_path / "data"
    marker = f"chatkit-window-test-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        "OPENAI_BASE_URL": provider.base_url,
        "CHATKIT_DESKTOP_MODEL": "fake-model",
        "CHATKIT_TEST_MARKER": marker,
    }
    app = App(data, xvfb, env)
    seconds = app.wait_ready()
    assert seconds > 0
    shot = screenshot(xvfb, "window-home.png")
    colors = subprocess.run(
        ["identify", "-format", "%k", str(shot)], capture_output=True, text=True
    )
    assert int(colors.stdout) > 16, "the window never painted"
    app.close_until_gone(xvfb)
    code, err = app.finish()
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    assert (data / "chats.db").exists()
    assert not (data / ".instance.json").exists()  # released on the way out
    log = (data / "logs" / "chatkit-desktop.log").read_text()
    assert "window closed; stopped cleanly" in log
    # No child process (QtWebEngine's renderer, zygote, GPU process) outlives the app.
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []


def test_second_launch_focuses_the_first_then_sigterm_quits(xvfb: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = App(data, xvfb)
    first.wait_ready()
    screenshot(xvfb, "window-onboarding.png")
    second = subprocess.run(
        [sys.executable, "-m", "desktop", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DISPLAY": xvfb},
    )
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    log = (data / "logs" / "chatkit-desktop.log").read_text()
    assert "a second launch asked for the window" in log
    assert log.count("starting on 127.0.0.1") == 1  # one server for this DB, ever
    first.proc.send_signal(signal.SIGTERM)
    code, err = first.finish()
    assert code == 0, err[-3000:]
    assert "Traceback" not in err


def test_store_error_shows_in_the_window_and_exits_nonzero(xvfb: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "chats.db").write_bytes(b"not a database at all" * 200)
    app = App(data, xvfb)
    # The window exists (hidden) from the start; the error shows once the check has failed,
    # which on a busy machine can take a while: wait for the app to say so.
    app.wait_for_line("window shows why it can't start")
    app.close_until_gone(xvfb)
    code, err = app.finish()
    assert code == 1
    assert "is damaged or is not a ChatKit Desktop database" in err
    assert "Traceback" not in err


def test_qtwebengine_sandbox_is_disabled_only_for_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop.shell.window import prepare_qt_environment

    for uid, expected in ((1000, None), (0, "1")):
        monkeypatch.delenv("QTWEBENGINE_DISABLE_SANDBOX", raising=False)
        monkeypatch.setattr(os, "geteuid", lambda uid=uid: uid)
        prepare_qt_environment()
        assert os.environ.get("QTWEBENGINE_DISABLE_SANDBOX") == expected


NAVIGATING_PAGE = b"""<!doctype html><title>app</title><p>the app</p>
<script>setTimeout(() => { location.href = "http://127.0.0.2:9/elsewhere"; }, 300);</script>"""

WINDOW_ONLY = """
import sys, threading, time
from desktop.shell.window import DesktopWindow

window = DesktopWindow(debug=False, process_started=time.monotonic())
window.open_hidden(sys.argv[1])
def drive():
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 4.0)
    print("URL", window.window.get_current_url(), flush=True)
    window.close()
threading.Thread(target=drive, daemon=True).start()
window.run()
"""


def test_the_window_never_navigates_away_from_the_app(xvfb: str, tmp_path: Path) -> None:
    """A page that tries to leave (a reply's link, injected script) stays; the link opens in
    the system browser instead. Runs the real window module on a real Qt window."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(NAVIGATING_PAGE)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    app_url = f"http://127.0.0.1:{server.server_address[1]}/app"
    try:
        result = subprocess.run(
            [sys.executable, "-c", WINDOW_ONLY, app_url],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "DISPLAY": xvfb, "BROWSER": str(browser)},
        )
    finally:
        server.shutdown()
    assert f"URL {app_url}" in result.stdout, result.stdout + result.stderr[-2000:]
    assert opened.read_text().split() == ["http://127.0.0.2:9/elsewhere"]


DOWNLOADING_PAGE = b"""<!doctype html><title>app</title><p>the app</p>
<a id="save" href="/export" download>Export</a>
<script>setTimeout(() => document.getElementById("save").click(), 500);</script>"""


def press_return(screen: str) -> None:
    from Xlib.ext import xtest

    d = display.Display(screen)
    code = d.keysym_to_keycode(0xFF0D)  # Return
    for kind in (X.KeyPress, X.KeyRelease):
        xtest.fake_input(d, kind, code)
    d.sync()
    d.close()


def test_an_export_is_saved_where_the_user_says_under_its_own_name(
    xvfb: str, tmp_path: Path
) -> None:
    """The app's export download asks where to save it, offering Downloads and the file's own
    name (not the address's path), and saves it there."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = DOWNLOADING_PAGE if self.path == "/app" else b"# Tide pools\n"
            self.send_response(200)
            if self.path == "/export":
                self.send_header("Content-Type", "text/markdown")
                self.send_header(
                    "Content-Disposition", "attachment; filename*=utf-8''Tide%20pools.md"
                )
            else:
                self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app_url = f"http://127.0.0.1:{server.server_address[1]}/app"
    proc = subprocess.Popen(
        [sys.executable, "-c", WINDOW_ONLY, app_url, "25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DISPLAY": xvfb, "HOME": str(home), "XDG_DOWNLOAD_DIR": ""},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                find_window(xvfb, "Save the export")[0].close()
                break
            except AssertionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        screenshot(xvfb, "window-export-save-dialog.png")
        press_return(xvfb)
        saved = home / "Downloads" / "Tide pools.md"
        while not saved.exists() and time.monotonic() < deadline + 15:
            time.sleep(0.1)
        assert saved.read_text() == "# Tide pools\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        server.shutdown()
