"""fsspec storage options without secrets at rest: ``env:NAME`` references, resolved at use.

A workspace records its artifact root's options in ``workspace.json``. Credentials never go
there: options whose name says they are secret (``secret``, ``token``, ``password``, ...)
are kept in memory only, unless they are references such as ``"env:AWS_SECRET_ACCESS_KEY"``,
which are written as they are and resolved wherever the store is opened (this process or a
worker), so the secret itself stays in the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import WorkspaceError

_SECRET = re.compile(
    r"(^|_)(key|secret|token|password|passwd|credential|credentials|sas|signature|"
    r"connection_string|account_key|client_secret|session)($|_)",
    re.IGNORECASE,
)
_NOT_SECRET = {"key_file", "client_kwargs", "config_kwargs", "endpoint_url", "anon"}
PREFIX = "env:"


def is_secret(name: str) -> bool:
    """Whether an option's name says its value is a credential."""
    return name not in _NOT_SECRET and bool(_SECRET.search(name))


def is_reference(value: Any) -> bool:
    """``"env:NAME"``: a value read from the environment where the store is opened."""
    return isinstance(value, str) and value.startswith(PREFIX) and len(value) > len(PREFIX)


def split_secrets(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(options that may be written down, literal secrets to keep in memory only)."""
    public, secret = {}, {}
    for name, value in options.items():
        if is_secret(name) and not is_reference(value) and value not in (None, "", False):
            secret[name] = value
        else:
            public[name] = value
    return public, secret


def resolve(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options with every ``env:NAME`` value replaced by that environment variable.

    Raises:
        WorkspaceError: a referenced variable is not set (names the option and the variable).
    """
    out = {}
    for name, value in (options or {}).items():
        if is_reference(value):
            var = value[len(PREFIX) :]
            if var not in os.environ:
                raise WorkspaceError(
                    f"storage option {name!r} refers to the environment variable {var!r}, "
                    f"which is not set here; set it (export {var}=...) where the store is opened"
                )
            value = os.environ[var]
        out[name] = value
    return out
