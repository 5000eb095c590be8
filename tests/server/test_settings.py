"""Server settings and token hashes: only hashes are accepted, unknown keys are refused,
precedence is defaults < file < environment < overrides; hashes are salted and verified in
constant time."""

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from voltlab.server import ServerSettings, hash_token, load_server_settings, new_token, verify_token
from voltlab.server.auth import Authenticator


def test_a_token_verifies_only_against_its_own_salted_hash() -> None:
    token = new_token()
    first, second = hash_token(token), hash_token(token)
    assert first != second, "a fresh salt every time"
    assert first.startswith("scrypt$") and token not in first
    assert verify_token(token, first) and verify_token(token, second)
    assert not verify_token(token + "x", first)
    with pytest.raises(ValueError, match="not a token hash"):
        verify_token(token, token)
    with pytest.raises(ValueError, match="empty token"):
        hash_token("")


def test_settings_refuse_plain_tokens_unknown_keys_and_repeated_names() -> None:
    with pytest.raises(ValidationError) as plain:
        ServerSettings(tokens=[{"name": "a", "role": "operator", "hash": "my-secret"}])
    assert plain.value.errors()[0]["loc"] == ("tokens", 0, "hash")
    assert "plain tokens are refused" in str(plain.value)
    with pytest.raises(ValidationError, match="role"):
        ServerSettings(tokens=[{"name": "a", "role": "admin", "hash": hash_token("t")}])
    with pytest.raises(ValidationError, match="portt"):
        ServerSettings(portt=1)
    hashed = hash_token("t")
    with pytest.raises(ValidationError, match="repeated: \\['a'\\]"):
        ServerSettings(
            tokens=[{"name": "a", "role": "viewer", "hash": hashed}] * 2,
        )


def test_defaults_are_closed() -> None:
    settings = ServerSettings()
    assert settings.host == "127.0.0.1" and settings.cors_origins == []
    assert settings.tokens == [] and settings.max_request_bytes == 1024 * 1024


def test_precedence_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "server.yaml"
    token = {"name": "ops", "role": "operator", "hash": hash_token("t")}
    config.write_text(yaml.safe_dump({"port": 8100, "lab": "lab.sqlite", "tokens": [token]}))
    assert load_server_settings(config).port == 8100
    monkeypatch.setenv("VOLTLAB_SERVER_PORT", "8200")
    monkeypatch.setenv("VOLTLAB_SERVER_CORS_ORIGINS", '["https://lab.example"]')
    from_env = load_server_settings(config)
    assert from_env.port == 8200 and from_env.cors_origins == ["https://lab.example"]
    assert from_env.tokens[0].name == "ops"
    assert load_server_settings(config, port=8300).port == 8300
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        load_server_settings(tmp_path / "missing.yaml")
    config.write_text(yaml.safe_dump({"prot": 1}))
    with pytest.raises(ValidationError, match="prot"):
        load_server_settings(config)


def test_authenticator_remembers_outcomes() -> None:
    settings = ServerSettings(tokens=[{"name": "v", "role": "viewer", "hash": hash_token("t")}])
    auth = Authenticator(settings.tokens)
    principal = auth.principal("t")
    assert principal is not None and principal.name == "v" and not principal.may_act
    assert auth.principal("t") is principal
    assert auth.principal("wrong") is None and auth.principal("wrong") is None
