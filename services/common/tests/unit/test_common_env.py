"""Settings come from TOLLGATE_* variables (process env over .env) and fail with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate_common.env import Env, Secret, SettingsError, read_dotenv


def test_typed_getters_read_prefixed_variables() -> None:
    env = Env({"TOLLGATE_PORT": "4001", "TOLLGATE_DEBUG": "yes", "TOLLGATE_RATIO": "0.5"})
    assert env.get_int("PORT", 1) == 4001
    assert env.get_bool("DEBUG", False) is True
    assert env.get_float("RATIO", 0.0) == 0.5
    assert env.get_str("MISSING", "dflt") == "dflt"
    assert env.get_optional("MISSING") is None


def test_malformed_value_names_the_variable_not_the_value() -> None:
    env = Env({"TOLLGATE_PORT": "forty"})
    with pytest.raises(SettingsError, match="TOLLGATE_PORT must be an integer") as info:
        env.get_int("PORT", 1)
    assert "forty" not in str(info.value)


def test_bounds_and_choices_are_enforced() -> None:
    env = Env({"TOLLGATE_WORKERS": "0", "TOLLGATE_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match=">= 1"):
        env.get_int("WORKERS", 1, minimum=1)
    with pytest.raises(SettingsError, match="one of"):
        env.get_choice("LOG_FORMAT", "auto", ("auto", "json"))


def test_secret_never_shows_in_repr() -> None:
    secret = Secret("sk-very-secret")
    assert "very" not in repr(secret)
    assert "very" not in str(secret)
    assert "very" not in repr({"token": secret})
    assert secret.get() == "sk-very-secret"


def test_process_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nTOLLGATE_A="from-file"\nexport TOLLGATE_B=file-b\n', encoding="utf-8")
    assert read_dotenv(dotenv) == {"TOLLGATE_A": "from-file", "TOLLGATE_B": "file-b"}
    monkeypatch.setenv("TOLLGATE_B", "from-env")
    env = Env(dotenv=dotenv)
    assert env.get_str("A", "") == "from-file"
    assert env.get_str("B", "") == "from-env"
