"""`<data dir>/mcp.json`: the user's MCP servers, in the `mcpServers` format Claude Desktop uses.

The file is a stable interface that users also edit by hand, so keys this app doesn't know are
kept as they are, and a file that can't be read is reported, never overwritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from desktop.errors import ConfigError
from desktop.fileio import atomic_write
from desktop.mcp.claude_desktop import claude_desktop_config, read_servers
from desktop.mcp.masking import MASK, masked_url, unmask

__all__ = ["MASK", "McpConfig", "McpConfigFile", "ServerSpec", "claude_desktop_config"]

Transport = Literal["stdio", "http", "sse"]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
_TYPES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamableHttp": "http",
    "sse": "sse",
}
MAX_TIMEOUT_S = 3600.0
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServerSpec:
    """One entry of `mcpServers`, checked."""

    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False
    # Seconds a tool call may take (this app's own key; other apps ignore it).
    timeout_s: float = DEFAULT_TIMEOUT_S

    def launch_key(self) -> tuple[Any, ...]:
        """What a running connection depends on: a change to any of it means reconnecting."""
        return (
            self.transport,
            self.command,
            self.args,
            tuple(sorted(self.env.items())),
            self.cwd,
            self.url,
            tuple(sorted(self.headers.items())),
            self.timeout_s,
        )

    def masked(self) -> dict[str, Any]:
        """The entry as the page sees it: secrets in `env` and `headers` replaced by MASK."""
        out: dict[str, Any] = {"name": self.name, "transport": self.transport}
        if self.transport == "stdio":
            out |= {"command": self.command, "args": list(self.args), "cwd": self.cwd or ""}
            out["env"] = {k: MASK for k in self.env}
        else:
            out |= {"url": masked_url(self.url), "headers": {k: MASK for k in self.headers}}
        out["disabled"] = self.disabled
        out["timeout_s"] = self.timeout_s
        return out


def _strings(value: Any, what: str, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"Server “{name}”: {what} must map names to text values.")
    return dict(value)


def parse_server(name: str, raw: Any) -> ServerSpec:
    """One `mcpServers` entry; a ConfigError names the server and what is wrong."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(
            f"Server name “{str(name)[:80]}” must be 1 to 64 letters, digits, spaces, '.', '_' "
            "or '-', starting with a letter or digit."
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"Server “{name}” must be an object.")
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ConfigError(f"Server “{name}”: disabled must be true or false.")
    timeout = raw.get("timeout", DEFAULT_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise ConfigError(f"Server “{name}”: timeout must be seconds between 1 and 3600.")
    kind = raw.get("type") or raw.get("transport")
    has_command, has_url = bool(raw.get("command")), bool(raw.get("url"))
    if has_command == has_url:
        raise ConfigError(f"Server “{name}” needs either a command or a url (not both).")
    if has_command:
        command, args, cwd = raw["command"], raw.get("args", []), raw.get("cwd")
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"Server “{name}”: command must be text.")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"Server “{name}”: args must be a list of text values.")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigError(f"Server “{name}”: cwd must be a folder path.")
        return ServerSpec(
            name=name,
            transport="stdio",
            command=command.strip(),
            args=tuple(args),
            env=_strings(raw.get("env"), "env", name),
            cwd=cwd or None,
            disabled=disabled,
            timeout_s=float(timeout),
        )
    url = raw["url"]
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"Server “{name}”: url must be an http:// or https:// address.")
    transport = _TYPES.get(str(kind)) if kind else None
    if kind and transport in (None, "stdio"):
        raise ConfigError(f"Server “{name}”: type must be “http” or “sse” for a url.")
    if transport is None:
        transport = "sse" if parts.path.rstrip("/").endswith("/sse") else "http"
    return ServerSpec(
        name=name,
        transport=transport,
        url=url,
        headers=_strings(raw.get("headers"), "headers", name),
        disabled=disabled,
        timeout_s=float(timeout),
    )


def _entry(spec: ServerSpec, before: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON entry for `spec`, keeping keys of `before` this app doesn't manage."""
    managed = {"command", "args", "env", "cwd", "url", "type", "transport", "headers"}
    managed |= {"disabled", "timeout"}
    out = {k: v for k, v in (before or {}).items() if k not in managed}
    if spec.transport == "stdio":
        out["command"] = spec.command
        out["args"] = list(spec.args)
        if spec.env:
            out["env"] = dict(spec.env)
        if spec.cwd:
            out["cwd"] = spec.cwd
    else:
        out["type"] = spec.transport
        out["url"] = spec.url
        if spec.headers:
            out["headers"] = dict(spec.headers)
    if spec.disabled:
        out["disabled"] = True
    if spec.timeout_s != DEFAULT_TIMEOUT_S:
        out["timeout"] = spec.timeout_s
    return out


@dataclass(frozen=True)
class McpConfig:
    servers: tuple[ServerSpec, ...] = ()
    # Entries that are wrong, by server name (the rest still run).
    problems: Mapping[str, str] = field(default_factory=dict)
    # Why the file as a whole can't be used, if so.
    error: str | None = None


class McpConfigFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _document(self) -> dict[str, Any]:
        """The file's JSON (an empty document if there is no file)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"mcpServers": {}}
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Can't read {self.path.name}: {type(exc).__name__}.") from exc
        try:
            doc = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{self.path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                "fix it, or move it aside to start over."
            ) from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("mcpServers", {}), dict):
            raise ConfigError(f"{self.path.name} must be an object with an “mcpServers” object.")
        doc.setdefault("mcpServers", {})
        return doc

    def load(self) -> McpConfig:
        try:
            doc = self._document()
        except ConfigError as exc:
            return McpConfig(error=exc.message)
        servers: list[ServerSpec] = []
        problems: dict[str, str] = {}
        for name, raw in doc["mcpServers"].items():
            try:
                servers.append(parse_server(name, raw))
            except ConfigError as exc:
                problems[str(name)[:64]] = exc.message
        return McpConfig(tuple(servers), problems)

    def put(self, name: str, raw: Mapping[str, Any], *, rename_from: str | None = None) -> None:
        """Add or replace one server. MASK values keep what is stored under the same key, only
        for the same destination (see desktop.mcp.masking)."""
        doc = self._document()
        entries: dict[str, Any] = doc["mcpServers"]
        before = entries.get(rename_from or name)
        if rename_from and rename_from != name and name in entries:
            raise ConfigError(f"There is already a server named “{name}”.", fields={"name": name})
        spec = parse_server(name, unmask(raw, before))
        new_entries = {}
        for key, value in entries.items():
            if key == (rename_from or name):
                new_entries[name] = _entry(spec, before)
            else:
                new_entries[key] = value
        if name not in new_entries:
            new_entries[name] = _entry(spec, before)
        doc["mcpServers"] = new_entries
        self._write(doc)

    def set_disabled(self, name: str, disabled: bool) -> None:
        doc = self._document()
        entry = doc["mcpServers"].get(name)
        if not isinstance(entry, dict):
            raise ConfigError(f"There is no server named “{name[:64]}”.")
        if disabled:
            entry["disabled"] = True
        else:
            entry.pop("disabled", None)
        self._write(doc)

    def delete(self, name: str) -> None:
        doc = self._document()
        if doc["mcpServers"].pop(name, None) is None:
            raise ConfigError(f"There is no server named “{name[:64]}”.")
        self._write(doc)

    def import_from(self, source: Path) -> tuple[list[str], list[str]]:
        """Copy the servers of another app's config (Claude Desktop's) that aren't here yet.
        Returns (added, skipped) names."""
        theirs = read_servers(source)
        doc = self._document()
        added, skipped = [], []
        for name, raw in theirs.items():
            try:
                parse_server(name, raw)
            except ConfigError:
                skipped.append(str(name)[:64])
                continue
            if name in doc["mcpServers"]:
                skipped.append(name)
            else:
                doc["mcpServers"][name] = raw
                added.append(name)
        if added:
            self._write(doc)
        return added, skipped

    def _write(self, doc: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
