"""A data dir, opened once: its paths, the settings in force and the key store. The launch opens
it and hands it to the app; the app builds the chat store from it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from desktop import env as env_names
from desktop.paths import Paths, resolve_paths
from desktop.settings.keys import KeyStore
from desktop.settings.service import SettingsService


@dataclass(frozen=True)
class Profile:
    paths: Paths
    env: Mapping[str, str]
    keys: KeyStore
    settings: SettingsService

    @classmethod
    def open(
        cls,
        paths: Paths | None = None,
        *,
        env: Mapping[str, str] | None = None,
        keys: KeyStore | None = None,
    ) -> Profile:
        """`paths` as the launch resolved them, else from `env`'s data dir or the default."""
        environ = dict(os.environ if env is None else env)
        paths = paths or resolve_paths(environ.get(env_names.DATA_DIR))
        keys = keys or KeyStore(paths.data)
        return cls(paths, environ, keys, SettingsService(paths.settings, environ, keys))
