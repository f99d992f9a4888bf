"""The api's keyring for secrets it must recover (each team's router virtual key)."""

from __future__ import annotations

from tollgate_api.errors import Unavailable
from tollgate_api.settings import AuthSettings
from tollgate_common.crypto import Keyring


def keyring_from_settings(settings: AuthSettings) -> Keyring | None:
    value = settings.encryption_keys.get()
    return Keyring.from_setting(value) if value else None


def require_keyring(keyring: Keyring | None) -> Keyring:
    if keyring is None:
        raise Unavailable("Secret storage is not configured (TOLLGATE_API_ENCRYPTION_KEYS).")
    return keyring


def virtual_key_aad(team_id: object) -> str:
    return f"team:{team_id}:virtual_key"
