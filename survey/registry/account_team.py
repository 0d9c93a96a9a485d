"""Our team around each key account: the account manager (on the account) plus these
members (executive sponsor, service lead, sales support ...), imported from CSV.

The file has the header `account_external_id,name,role,email`, is checked whole
before anything is written (the accounts import's rules and messages, see
survey.registry.csv_files), and upserts each member by (account, e-mail), or by
(account, name) when the row has no e-mail. A row without e-mail never erases the
e-mail a member already has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from survey.audit import ACCOUNT_TEAM_IMPORT, record_audit
from survey.db import db
from survey.errors import ConflictError
from survey.models import AccountTeamMember, KeyAccount
from survey.registry.csv_files import Problem, RowCheck, read_csv_file
from survey.registry.messages import join_choices, quote_input
from survey.scale import TeamRole

TEAM_COLUMNS: tuple[str, ...] = ("account_external_id", "name", "role", "email")
#: Limits follow the column sizes of account_team_members.
MAX_LENGTH: dict[str, int] = {"account_external_id": 64, "name": 120, "email": 254}


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A valid row of a team CSV."""

    line: int
    account_id: int
    account_external_id: str
    name: str
    role: str
    email: str | None


@dataclass(slots=True)
class TeamImportReport:
    """The outcome of one import. `imported` is False when nothing was written."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    imported: bool = False


@dataclass(frozen=True, slots=True)
class TeamMemberView:
    """A member of an account's team, as the API and the console show it."""

    account_id: int
    name: str
    role: str
    email: str | None

    def role_label(self, locale: str | None) -> str:
        try:
            return TeamRole(self.role).label(locale)
        except ValueError:
            return self.role


def import_account_team_csv(
    stream: IO[bytes], *, skip_invalid: bool = False, actor: str | None = None
) -> TeamImportReport:
    """Validate a team CSV, then create or update members; committed here.

    With any problem nothing is imported, unless `skip_invalid`: then the valid rows
    are and the others reported. One audit entry tells who imported what.
    """
    rows, problems, invalid, fatal = _validate(stream)
    report = TeamImportReport(problems=problems)
    if fatal or (problems and not skip_invalid) or (problems and not rows):
        db.session.rollback()
        return report
    try:
        report.created, report.updated, report.unchanged = _upsert(rows)
        report.skipped = invalid
        record_audit(
            actor,
            ACCOUNT_TEAM_IMPORT,
            "account_team",
            None,
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "skipped": report.skipped,
            },
        )
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ConflictError(
            "the teams changed while importing (another import at the same time?); "
            "nothing was imported, run the import again"
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    report.imported = True
    return report


def teams_of_accounts(account_ids: Sequence[int]) -> dict[int, list[TeamMemberView]]:
    """Each account's team members (one query for all), in the order they were added."""
    teams: dict[int, list[TeamMemberView]] = {i: [] for i in account_ids}
    if not account_ids:
        return teams
    stmt = (
        select(AccountTeamMember)
        .where(AccountTeamMember.account_id.in_(list(account_ids)))
        .order_by(AccountTeamMember.account_id, AccountTeamMember.id)
    )
    for m in db.session.scalars(stmt):
        teams[m.account_id].append(TeamMemberView(m.account_id, m.name, m.role, m.email))
    return teams


# --- checking the file ------------------------------------------------------------------


def _validate(stream: IO[bytes]) -> tuple[list[TeamRow], list[Problem], int, bool]:
    """(valid rows, problems, rows with problems, whether the file is unusable)."""
    file = read_csv_file(stream, TEAM_COLUMNS)
    if file.fatal:
        return [], file.problems, 0, True
    wanted = {r.values["account_external_id"] for r in file.records if r.values is not None}
    accounts = dict(
        db.session.execute(
            select(KeyAccount.external_id, KeyAccount.id).where(
                KeyAccount.external_id.in_(sorted(wanted))
            )
        ).all()
    )
    parsed: list[tuple[int, TeamRow | None, list[Problem]]] = []
    lines_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for record in file.records:
        if record.values is None:
            assert record.problem is not None
            parsed.append((record.line, None, [record.problem]))
            continue
        row, row_problems = _parse_row(record.line, record.values, accounts)
        parsed.append((record.line, row, row_problems))
        if row is not None:
            lines_of[_file_key(row)].append(row.line)

    rows: list[TeamRow] = []
    problems: list[Problem] = []
    invalid = 0
    for line, row, row_problems in parsed:
        if row is not None:
            others = [str(n) for n in lines_of[_file_key(row)] if n != line]
            if others:
                column = "email" if row.email else "name"
                where = f"line {others[0]}" if len(others) == 1 else f"lines {', '.join(others)}"
                value = row.email if row.email else row.name
                row_problems = [
                    Problem(
                        line, column, f"{quote_input(value)} of this account is also on {where}"
                    )
                ]
        if row_problems:
            invalid += 1
            problems.extend(row_problems)
        elif row is not None:
            rows.append(row)
    return rows, problems, invalid, False


def _file_key(row: TeamRow) -> tuple[str, str]:
    return (row.account_external_id, f"@{row.email.lower()}" if row.email else row.name)


def _parse_row(
    line: int, values: dict[str, str], accounts: dict[str, int]
) -> tuple[TeamRow | None, list[Problem]]:
    check = RowCheck(line, values, MAX_LENGTH)
    problem = check.problem
    check.text("account_external_id", required=True)
    check.text("name", required=True)
    external_id = values["account_external_id"]
    account_id = accounts.get(external_id)
    if external_id and account_id is None:
        problem("account_external_id", f"{quote_input(external_id)} is not an account")
    role = _parse_role(values["role"])
    if role is None:
        got = f"{quote_input(values['role'])} is not a team role" if values["role"] else None
        allowed = f"use {join_choices(TeamRole.codes())} (or the Chinese or English label)"
        problem("role", f"{got or 'is required'}; {allowed}")
    email = check.email("email")
    problems = check.problems(TEAM_COLUMNS)
    if problems:
        return None, problems
    assert account_id is not None and role is not None
    return TeamRow(line, account_id, external_id, values["name"], role, email), []


def _parse_role(raw: str) -> str | None:
    try:
        return TeamRole.parse(raw).value if raw else None
    except ValueError:
        return None


# --- writing ----------------------------------------------------------------------------


def _upsert(rows: list[TeamRow]) -> tuple[int, int, int]:
    members: dict[int, list[AccountTeamMember]] = defaultdict(list)
    stmt = select(AccountTeamMember).where(
        AccountTeamMember.account_id.in_(sorted({r.account_id for r in rows}))
    )
    for member in db.session.scalars(stmt):
        members[member.account_id].append(member)
    created = updated = unchanged = 0
    for row in rows:
        member = _match(members[row.account_id], row)
        if member is None:
            member = AccountTeamMember(
                account_id=row.account_id, name=row.name, role=row.role, email=row.email
            )
            db.session.add(member)
            members[row.account_id].append(member)
            created += 1
            continue
        email = row.email or member.email
        if (member.name, member.role, member.email) == (row.name, row.role, email):
            unchanged += 1
            continue
        member.name, member.role, member.email = row.name, row.role, email
        updated += 1
    db.session.flush()
    return created, updated, unchanged


def _match(team: list[AccountTeamMember], row: TeamRow) -> AccountTeamMember | None:
    """The member this row describes: same e-mail; else same name (without an e-mail of
    its own when the row has one, so two people of one name stay two)."""
    if row.email:
        wanted = row.email.lower()
        found = next((m for m in team if m.email and m.email.lower() == wanted), None)
        if found is not None:
            return found
        return next((m for m in team if m.name == row.name and not m.email), None)
    return next((m for m in team if m.name == row.name), None)


__all__ = [
    "TEAM_COLUMNS",
    "TeamImportReport",
    "TeamMemberView",
    "import_account_team_csv",
    "teams_of_accounts",
]
