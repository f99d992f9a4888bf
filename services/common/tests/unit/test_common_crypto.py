"""Keys: 256-bit, prefixed, stored as SHA-256. Recoverable secrets: AES-GCM under rotating KEKs."""

from __future__ import annotations

import pytest

from tollgate_common.crypto import DecryptionError, Keyring, generate_key, hash_key, key_hint


def test_generated_keys_are_prefixed_unique_and_long() -> None:
    keys = {generate_key("tg_live_") for _ in range(200)}
    assert len(keys) == 200
    assert all(k.startswith("tg_live_") and len(k) >= len("tg_live_") + 43 for k in keys)


def test_hash_is_sha256_hex_and_hint_shows_four_characters() -> None:
    key = generate_key("tgv_")
    assert len(hash_key(key)) == 64
    assert key not in hash_key(key)
    assert key_hint(key) == key[-4:]


def test_encrypt_roundtrip_and_ciphertext_hides_plaintext() -> None:
    ring = Keyring.from_setting(Keyring.new_key_setting("k1"))
    token = ring.encrypt("sk-provider-secret", associated="provider:1")
    assert "sk-provider-secret" not in token
    assert ring.decrypt(token, associated="provider:1") == "sk-provider-secret"


def test_tampering_or_wrong_context_fails() -> None:
    ring = Keyring.from_setting(Keyring.new_key_setting("k1"))
    token = ring.encrypt("secret", associated="a")
    with pytest.raises(DecryptionError):
        ring.decrypt(token, associated="b")
    version, kid, nonce, sealed = token.split(":")
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        ring.decrypt(":".join((version, kid, nonce, flipped)), associated="a")


def test_rotation_reencrypts_under_the_new_primary() -> None:
    old = Keyring.new_key_setting("k1")
    new = Keyring.new_key_setting("k2")
    token = Keyring.from_setting(old).encrypt("secret")
    both = Keyring.from_setting(f"{new},{old}")
    assert both.needs_rotation(token)
    rotated = both.rotate(token)
    assert both.key_id_of(rotated) == "k2"
    assert Keyring.from_setting(new).decrypt(rotated) == "secret"
