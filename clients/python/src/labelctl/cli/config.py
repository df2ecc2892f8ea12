"""Where the CLI finds its server and key: flags, then LABELCTL_URL / LABELCTL_API_KEY, then the file
`labelctl login` writes (LABELCTL_CONFIG, else $XDG_CONFIG_HOME/labelctl/config.json), used only
for the server it was written for."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labelctl._http import api_root
from labelctl.client import DEFAULT_URL


class UsageError(Exception):
    """The command cannot run as given (exit code 2)."""


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str | None
    path: Path


def config_path(environ: Mapping[str, str]) -> Path:
    """The config file's path."""
    if environ.get("LABELCTL_CONFIG"):
        return Path(environ["LABELCTL_CONFIG"])
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "labelctl" / "config.json"


def read_file(path: Path) -> dict[str, str]:
    """The saved settings ({} when there are none)."""
    try:
        found = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


def resolve(url: str | None, api_key: str | None, environ: Mapping[str, str]) -> Settings:
    """The settings a command runs with."""
    path = config_path(environ)
    saved = read_file(path)
    chosen = url or environ.get("LABELCTL_URL") or saved.get("url") or DEFAULT_URL
    key = api_key or environ.get("LABELCTL_API_KEY")
    if not key and saved.get("api_key") and api_root(saved.get("url", DEFAULT_URL)) == api_root(chosen):
        key = saved["api_key"]
    return Settings(url=chosen, api_key=key or None, path=path)


def save(path: Path, url: str, api_key: str) -> None:
    """Write the server and key to the config file, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"url": url, "api_key": api_key}, out, indent=2)
    os.replace(partial, path)
