"""Staff members, API tokens and the `flask staff` commands."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from survey.clock import utcnow
from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import ApiToken, StaffMember
from survey.registry.staff import (
    add_staff,
    authenticate,
    authenticate_token,
    ensure_staff_token,
    issue_token,
    list_staff,
    list_tokens,
    record_token_use,
    revoke_staff,
    role_at_least,
)
from survey.tokens import hash_token

TOKEN_RE = re.compile(r"Authorization: Bearer (\S+)")


def test_add_stores_only_a_hash_and_authenticates(app):
    with app.app_context():
        issued = add_staff("  Zhang   Min ", "manager", "zhang@example.com")
        assert issued.name == "Zhang Min"
        stored = db.session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hash_token(issued.token) != issued.token
        member = authenticate(issued.token)
        assert member is not None and (member.name, member.role) == ("Zhang Min", "manager")
        assert authenticate("not-a-token") is None
        assert authenticate("") is None


def test_last_used_is_written_at_most_once_a_minute(app):
    with app.app_context():
        issued = add_staff("li", "viewer")
        t0 = utcnow()
        authenticate(issued.token, now=t0)
        authenticate(issued.token, now=t0 + timedelta(seconds=59))
        token = db.session.scalars(select(ApiToken)).one()
        assert token.last_used_at == t0
        authenticate(issued.token, now=t0 + timedelta(seconds=61))
        db.session.refresh(token)
        assert token.last_used_at - t0 == timedelta(seconds=61)


def test_token_look_up_writes_nothing_and_its_use_is_recorded_once(app):
    with app.app_context():
        issued = add_staff("wang", "viewer")
        t0 = utcnow()
        # Two requests with the new token at once: both see it unused.
        first = authenticate_token(issued.token, now=t0)
        second = authenticate_token(issued.token, now=t0 + timedelta(seconds=1))
        assert first is not None and second is not None
        assert (first.member.name, first.member.role) == ("wang", "viewer")
        assert first.stale and second.stale
        assert db.session.scalars(select(ApiToken.last_used_at)).one() is None
        assert record_token_use(first) is True
        assert record_token_use(second) is False  # written a second ago: not again
        assert db.session.scalars(select(ApiToken.last_used_at)).one() == t0
        later = authenticate_token(issued.token, now=t0 + timedelta(seconds=30))
        assert later is not None and not later.stale and record_token_use(later) is False


def test_revoke_kills_every_token_and_deactivates(app):
    with app.app_context():
        first = add_staff("wang", "admin")
        second = issue_token("wang")
        assert revoke_staff("wang") == 2
        assert authenticate(first.token) is None
        assert authenticate(second.token) is None
        assert db.session.scalars(select(StaffMember)).one().active is False
        with pytest.raises(ConflictError):
            issue_token("wang")
        assert revoke_staff("wang") == 0


@pytest.mark.parametrize(
    ("name", "role", "email", "error", "field"),
    [
        ("", "viewer", None, InvalidInputError, "name"),
        ("x", "boss", None, InvalidInputError, "role"),
        ("x", "viewer", "not-an-email", InvalidInputError, "email"),
        ("taken", "viewer", None, ConflictError, "name"),
        ("y", "viewer", "taken@example.com", ConflictError, "email"),
    ],
)
def test_add_rejects_bad_input(app, name, role, email, error, field):
    with app.app_context():
        add_staff("taken", "viewer", "taken@example.com")
        with pytest.raises(error) as exc:
            add_staff(name, role, email)
        assert exc.value.field == field
        assert len(list_staff()) == 1


def test_unknown_name_is_not_found(app):
    with app.app_context():
        for action in (issue_token, revoke_staff):
            with pytest.raises(NotFoundError):
                action("nobody")


def test_list_staff_and_tokens(app):
    with app.app_context():
        a = add_staff("b-admin", "admin")
        issue_token("b-admin")
        add_staff("a-viewer", "viewer", "v@example.com")
        authenticate(a.token)
        revoke_staff("a-viewer")
        rows = list_staff()
        tokens = list_tokens()
    assert [(r.name, r.role, r.email, r.active, r.tokens) for r in rows] == [
        ("a-viewer", "viewer", "v@example.com", False, 0),
        ("b-admin", "admin", None, True, 2),
    ]
    assert rows[0].last_used_at is None and rows[1].last_used_at is not None
    assert [(t.staff_name, t.revoked_at is None) for t in tokens] == [
        ("a-viewer", False),
        ("b-admin", True),
        ("b-admin", True),
    ]


def test_ensure_staff_token_creates_once_and_flushes_only(app):
    with app.app_context():
        token = ensure_staff_token("demo", role="manager")
        again = ensure_staff_token("demo", role="viewer")
        db.session.commit()
        assert token != again
        assert authenticate(token).role == "manager"
        assert authenticate(again).role == "manager"


def test_role_order():
    assert role_at_least("admin", "manager") and role_at_least("manager", "manager")
    assert not role_at_least("viewer", "manager")
    assert not role_at_least("unknown", "viewer")


def test_cli_add_token_list_revoke(app, runner):
    result = runner.invoke(args=["staff", "add", "Chen", "--role", "manager", "--email", "c@x.cn"])
    assert result.exit_code == 0, result.output
    assert "Added Chen (manager)." in result.output
    token = TOKEN_RE.search(result.output).group(1)
    result = runner.invoke(args=["staff", "token", "Chen"])
    assert result.exit_code == 0
    second = TOKEN_RE.search(result.output).group(1)
    with app.app_context():
        assert authenticate(token).name == "Chen"
        assert authenticate(second).name == "Chen"
    listing = runner.invoke(args=["staff", "list"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert lines[0].split() == [
        "NAME",
        "ROLE",
        "EMAIL",
        "ACTIVE",
        "TOKENS",
        "LAST",
        "USED",
        "(UTC)",
    ]
    assert lines[1].split()[:5] == ["Chen", "manager", "c@x.cn", "yes", "2"]
    result = runner.invoke(args=["staff", "revoke", "Chen"])
    assert result.exit_code == 0
    assert "revoked 2 token(s)" in result.output
    with app.app_context():
        assert authenticate(token) is None


def test_cli_errors_are_clear(runner):
    result = runner.invoke(args=["staff", "add", "X", "--role", "boss"])
    assert result.exit_code == 2 and "boss" in result.output
    runner.invoke(args=["staff", "add", "X", "--role", "viewer"])
    result = runner.invoke(args=["staff", "add", "X", "--role", "viewer"])
    assert result.exit_code == 1 and "already exists" in result.output
    result = runner.invoke(args=["staff", "revoke", "nobody"])
    assert result.exit_code == 1 and "No staff member named 'nobody'" in result.output
    assert "No staff members yet" not in runner.invoke(args=["staff", "list"]).output


def test_cli_list_when_empty(runner):
    assert "No staff members yet" in runner.invoke(args=["staff", "list"]).output
