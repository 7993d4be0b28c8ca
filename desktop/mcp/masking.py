"""Masked secrets of MCP servers: what the page sees instead of `env` and `headers` values (and a
password in a `url`), and which stored values a masked value sent back may keep.

A stored secret belongs to the destination it was saved for: the `url` of a remote server, or the
`command`, `args` and `cwd` of a program (a relative command or argument is found from `cwd`) and
the `env` values that decide which code that program runs (PATH, NODE_OPTIONS, LD_PRELOAD, ...).
When an edit changes the destination, keeping a masked value would hand the secret to a host or a
program the user never gave it to, so the edit is refused until those values are typed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from desktop.errors import ConfigError

# What the page shows instead of an `env` or `headers` value; sent back, it keeps the stored one.
MASK = "••••••••"


# How a refusal names the user and password part of a url.
URL_USERINFO = "the user and password in the url"


class SecretsNeedRetyping(ConfigError):
    """An edit sent masked values back for a destination they were not saved for."""

    code = "retype_secrets"


def masked_url(url: str) -> str:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return parts._replace(netloc=f"{MASK}@{_host_and_port(parts.netloc)}").geturl()
    return url


def _host_and_port(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def _destination(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """Where an entry's secrets go. A url's user and password are left out: they are secrets
    themselves, and the page sends them back masked."""
    url = entry.get("url")
    if url:
        if not isinstance(url, str):
            return ("url", url)
        parts = urlsplit(url)
        return ("url", parts._replace(netloc=_host_and_port(parts.netloc).lower()).geturl())
    return ("command", entry.get("command"), entry.get("args") or [], entry.get("cwd") or None)


# Environment variables that change which program or code a command runs. A typed change to one
# of them is a new destination, like a new command.
_LAUNCH_ENV = frozenset(
    {
        # where programs are found, and the start-up files of shells
        "PATH",
        "PATHEXT",
        "COMSPEC",
        "SHELL",
        "BASH_ENV",
        "ENV",
        # where tools read their set-up (npm's registry, pip's index)
        "HOME",
        "USERPROFILE",
        "APPDATA",
        "XDG_CONFIG_HOME",
        # code loaded before the program's own
        "NODE_OPTIONS",
        "PYTHONSTARTUP",
        "PERL5OPT",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "_JAVA_OPTIONS",
        # where modules and libraries are found
        "NODE_PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "PERL5LIB",
        "PERLLIB",
        "RUBYLIB",
        "CLASSPATH",
        # where uvx and pip fetch the package to run, and with which Python
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "UV_INDEX",
        "UV_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_EXTRA_INDEX_URL",
        "UV_PYTHON",
    }
)
# The dynamic loader's (LD_PRELOAD, DYLD_INSERT_LIBRARIES, ...), npm's, Bun's and Deno's.
_LAUNCH_ENV_PREFIXES = ("LD_", "DYLD_", "NPM_CONFIG_", "BUN_", "DENO_")


def _launch_env(entry: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The env values of `entry` that decide what its program runs, by name; a MASK value
    stands for the stored one. Names are recognised in any case, as Windows reads them."""
    env, saved = entry.get("env"), stored.get("env")
    env = env if isinstance(env, dict) else {}
    saved = saved if isinstance(saved, dict) else {}
    found: dict[str, Any] = {}
    for name, value in env.items():
        upper = str(name).upper()
        if upper in _LAUNCH_ENV or upper.startswith(_LAUNCH_ENV_PREFIXES):
            found[str(name)] = saved.get(name, value) if value == MASK else value
    return found


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    old, new = _destination(before), _destination(after)
    if old[0] != new[0]:
        return ["url"] if new[0] == "url" else ["command"]
    if new[0] == "url":
        return ["url"] if old != new else []
    changed = [
        name
        for name, a, b in zip(("command", "args", "cwd"), old[1:], new[1:], strict=True)
        if a != b
    ]
    was, now = _launch_env(before, before), _launch_env(after, before)
    changed += sorted(name for name in was.keys() | now.keys() if was.get(name) != now.get(name))
    return changed


def _masked_keys(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in ("env", "headers"):
        values = raw.get(key)
        if isinstance(values, dict):
            names = [str(k) for k, v in values.items() if v == MASK]
            if names:
                found[key] = names
    url = raw.get("url")
    if isinstance(url, str) and MASK in url:
        found["url"] = [URL_USERINFO]
    return found


def _saved_values(stored: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    if key == "url":
        url = stored.get("url")
        has_password = isinstance(url, str) and "@" in urlsplit(url).netloc
        return {URL_USERINFO: url} if has_password else {}
    values = stored.get(key)
    return values if isinstance(values, dict) else {}


def unmask(raw: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict[str, Any]:
    """`raw` with each MASK value replaced by the stored one, if the destination is unchanged.

    Raises SecretsNeedRetyping, naming the fields to type again, when a masked value has no
    stored value or the destination changed (a rename keeps the destination of `before`)."""
    merged = dict(raw)
    masked = _masked_keys(raw)
    if not masked:
        return merged
    stored = before if isinstance(before, Mapping) else None
    if stored is None:
        raise _refusal(masked, [])
    changed = _changed_fields(stored, raw)
    if changed:
        raise _refusal(masked, changed)
    saved = {key: _saved_values(stored, key) for key in masked}
    missing = {key: [n for n in names if n not in saved[key]] for key, names in masked.items()}
    missing = {key: names for key, names in missing.items() if names}
    if missing:
        raise _refusal(missing, [])
    for key in ("env", "headers"):
        values = merged.get(key)
        if isinstance(values, dict):
            merged[key] = {k: (saved[key][k] if v == MASK else v) for k, v in values.items()}
    if "url" in masked:
        merged["url"] = stored["url"]
    return merged


def _refusal(masked: Mapping[str, list[str]], changed: list[str]) -> SecretsNeedRetyping:
    if changed:
        why = (
            f"The {' and '.join(changed)} changed, and saved secrets go only where they were saved"
        )
    else:
        why = "There is no saved value to keep"
    fields = {key: f"{why}: type {', '.join(names)} again." for key, names in masked.items()}
    listed = "; ".join(f"{key}: {', '.join(names)}" for key, names in masked.items())
    return SecretsNeedRetyping(f"{why}. Type these values again ({listed}).", fields=fields)
