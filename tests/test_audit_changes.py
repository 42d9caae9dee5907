"""The one way a change is audited (`services.audit.audited` / `change`): the same row for
connections, semantic models, team and keys, on success and on failure."""

from __future__ import annotations

from typing import Any

import pytest

from sqlgate.auth.principal import Principal
from sqlgate.auth.scopes import ROLE_SCOPES, Role
from sqlgate.errors import Conflict
from sqlgate.services.audit import AuditLog, AuditRecord, audited, change


class _Recorder(AuditLog):
    """Keeps what is recorded instead of writing it (no store, no thread)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, event: AuditRecord) -> None:
        self.records.append(event)


def _actor() -> Principal:
    return Principal(
        org_id="org_1",
        org_slug="one",
        key_id="key_1",
        member_id="mem_1",
        role=Role.ADMIN,
        scopes=frozenset(ROLE_SCOPES[Role.ADMIN]),
    )


def _row(record: AuditRecord) -> dict[str, Any]:
    fields = vars(record).copy()
    del fields["created_at"]
    return fields


def test_a_change_that_succeeds_is_ok_with_what_it_made() -> None:
    audit = _Recorder()
    with audited(
        audit,
        _actor(),
        "org_1",
        "semantic_model.deploy",
        connection_id="c1",
        target_id="c1",
        client="1.2.3.4",
    ) as outcome:
        outcome["version"] = 3
    assert [_row(r) for r in audit.records] == [
        {
            "org_id": "org_1",
            "action": "semantic_model.deploy",
            "status": "ok",
            "member_id": "mem_1",
            "key_id": "key_1",
            "connection_id": "c1",
            "sql": None,
            "error_code": None,
            "row_count": None,
            "duration_ms": None,
            "client": "1.2.3.4",
            "target_id": "c1",
            "detail": {"version": 3},
        }
    ]


def test_a_change_that_fails_is_an_error_with_its_code_and_goes_on_up() -> None:
    audit = _Recorder()

    def create() -> None:
        with audited(audit, None, "org_1", "connection.create", connection_id="c1") as outcome:
            outcome["never"] = "seen"
            raise Conflict("taken")

    with pytest.raises(Conflict):
        create()
    (row,) = audit.records
    assert (row.status, row.error_code, row.action, row.connection_id) == (
        "error",
        "conflict",
        "connection.create",
        "c1",
    )
    # the operator at the command line: nobody's key; what the block put in is still kept
    assert (row.member_id, row.key_id, row.client) == (None, None, None)
    assert row.detail == {"never": "seen"}


def test_nothing_put_in_is_no_detail_and_no_log_records_nothing() -> None:
    audit = _Recorder()
    with audited(audit, _actor(), "org_1", "connection.test", connection_id="c1"):
        pass
    assert audit.records[0].detail is None and audit.records[0].status == "ok"
    with audited(None, _actor(), "org_1", "connection.test", connection_id="c1"):
        pass  # services built without an audit log (some tests) record nothing


def test_change_names_the_actor_or_nobody() -> None:
    row = change(_actor(), "org_1", "key.revoke", client=None, target_id="key_2")
    assert (row.member_id, row.key_id, row.status, row.target_id) == (
        "mem_1",
        "key_1",
        "ok",
        "key_2",
    )
    cli = change(None, "org_1", "member.remove", client="cli", detail={"role": "viewer"})
    assert (cli.member_id, cli.key_id, cli.client, cli.detail) == (
        None,
        None,
        "cli",
        {"role": "viewer"},
    )


def test_a_change_that_crashes_is_an_internal_error_never_ok() -> None:
    audit = _Recorder()

    def update() -> None:
        with audited(audit, None, "org_1", "connection.update", connection_id="c1"):
            raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        update()
    assert [(r.status, r.error_code) for r in audit.records] == [("error", "internal_error")]
