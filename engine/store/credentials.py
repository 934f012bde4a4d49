"""Storage options for packages above the engine (the scheduler): the store's seam onto
``fingerprint.options`` (secrets are kept out of files; ``env:NAME`` is resolved where used)."""

from ..fingerprint.options import is_reference, is_secret, resolve, split_secrets

__all__ = ["is_reference", "is_secret", "resolve", "split_secrets"]
