"""Connection passwords: encrypted at rest, rotatable, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sqlgate.cli import main
from sqlgate.container import Services
from sqlgate.errors import ConnectionFailed
from sqlgate.services.secrets import SecretBox
from sqlgate.store.models import Connection, Workflow
from tests.conftest import make_settings


def test_round_trip_and_tokens_differ_each_time() -> None:
    box = SecretBox("k1")
    a, b = box.encrypt("hunter2"), box.encrypt("hunter2")
    assert a != b and "hunter2" not in a
    assert box.decrypt(a) == "hunter2" == box.decrypt(b)


def test_rotation_old_key_still_decrypts_new_writes_use_new_key() -> None:
    old = SecretBox("old-key").encrypt("s3cret")
    box = SecretBox("new-key", previous=["old-key"])
    assert box.decrypt(old) == "s3cret"
    assert not box.is_current(old)
    fresh = box.encrypt("s3cret")
    assert box.is_current(fresh)
    assert SecretBox("new-key").decrypt(box.rotate(old)) == "s3cret"
    with pytest.raises(ConnectionFailed):
        SecretBox("new-key").decrypt(old)  # without the old key: a clear error, not garbage


def _stored_tokens(services: Services) -> list[str]:
    with services.store.session() as session:
        return [
            t for t in session.scalars(select(Connection.password_encrypted)).all() if t is not None
        ]


def test_cli_rotate_re_encrypts_stored_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password stored under the old key is readable after the key changes (old key listed
    as previous), and `sqlgate secrets rotate` moves it to the new key."""
    old_box = SecretBox("old-key")
    services = Services.build(make_settings(tmp_path, secret_key="old-key"))
    try:
        from sqlgate.services import orgs

        init = orgs.init_organization(services.store, name="A", owner_email="a@a.test")
        with services.store.session() as session:
            session.add(
                Connection(
                    id="conn_x",
                    org_id=init.org_id,
                    name="pg",
                    type="postgresql",
                    database="db",
                    host="127.0.0.1",
                    port=5432,
                    username="u",
                    password_encrypted=old_box.encrypt("pw-1"),
                )
            )
            hook = {
                "type": "webhook",
                "url_enc": old_box.encrypt("https://hooks.example.com/T0/B0/X"),
                "url_origin": "https://hooks.example.com",
                "secret_enc": old_box.encrypt("whsec"),
            }
            session.add(
                Workflow(
                    id="wf_x",
                    org_id=init.org_id,
                    member_id="mem_x",
                    name="w",
                    enabled=False,
                    document={"trigger": {"type": "manual"}, "steps": [hook]},
                )
            )
    finally:
        services.close()
    monkeypatch.setenv("SQLGATE_SECRET_KEY", "new-key")
    monkeypatch.setenv("SQLGATE_PREVIOUS_SECRET_KEYS", '["old-key"]')
    assert main(["secrets", "rotate", "--data-dir", str(tmp_path)]) == 0
    services = Services.build(make_settings(tmp_path, secret_key="new-key"))
    try:
        [token] = _stored_tokens(services)
        assert SecretBox("new-key").decrypt(token) == "pw-1"
        with services.store.session() as session:  # workflow webhooks' URLs and secrets too
            [hook] = session.get(Workflow, "wf_x").document["steps"]  # type: ignore[union-attr]
        new_box = SecretBox("new-key")
        assert new_box.decrypt(hook["url_enc"]) == "https://hooks.example.com/T0/B0/X"
        assert new_box.decrypt(hook["secret_enc"]) == "whsec"
    finally:
        services.close()
