"""Client configuration: where the server is and who we are (a small kubeconfig).

Precedence: explicit --server/--token flags > --config FILE > $OSDN_CONFIG > ~/.osdn/config.
The file is YAML: `server: URL`, `token: TOKEN`, optional `user:` (informational).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from osdn.errors import BadRequestError

DEFAULT_PATH = Path.home() / ".osdn" / "config"


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str = ""
    user: str = ""
    source: str = ""


def load_config(path: str | None = None, server: str | None = None, token: str | None = None) -> ClientConfig:
    file = path or os.environ.get("OSDN_CONFIG") or (str(DEFAULT_PATH) if DEFAULT_PATH.exists() else None)
    data: dict[str, str] = {}
    if file:
        try:
            data = yaml.safe_load(Path(file).read_text()) or {}
        except FileNotFoundError:
            raise BadRequestError(f"config file {file} does not exist (from "
                                  f"{'--config' if path else '$OSDN_CONFIG' if os.environ.get('OSDN_CONFIG') else 'the default path'})") from None
        except (OSError, yaml.YAMLError) as e:
            raise BadRequestError(f"cannot read config file {file}: {e}") from None
    srv = server or data.get("server")
    if not srv:
        raise BadRequestError("no server configured: pass --server URL, --config FILE or set OSDN_CONFIG "
                              "(osdn server writes DATA_DIR/admin.conf)")
    return ClientConfig(srv.rstrip("/"), token if token is not None else str(data.get("token") or ""),
                        "" if token else str(data.get("user") or ""), file or "flags")
