"""The key-account registry: CSV validation and import, defections, and the CLI."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey.db import db
from survey.errors import ConflictError, InvalidInputError, NotFoundError
from survey.models import SOURCE_EXIT_SURVEY, Defection, DefectionReason, KeyAccount
from survey.registry import (
    ACCOUNT_COLUMNS,
    account_import,
    get_account,
    import_accounts_csv,
    list_accounts,
    parse_revenue,
    record_defection,
)
from survey.registry.account_csv import AccountRow, Problem, validate_accounts_csv
from survey.scale import TIERS, RelationshipStage, ValueType

from .factories import make_account, make_defection

DATA = Path(__file__).parent / "data"
HEADER = ",".join(ACCOUNT_COLUMNS)
ROW_1 = (
    'KA001,上海华联超市,A,extrinsic,partner,华东,"1,200,000",王伟,李娜,'
    "lina@example.com,+86 21 5555 0101,zh"
)
ROW_2 = (
    "KA002,Pearl River Trading,b,Intrinsic value,卖主关系,华南,,陈静,Michael Lee,,020-5555 0102,en"
)
ROW_3 = "KA003,西安古城农资,C,战略价值型,Strategic alliance,西北,520000,刘洋,,,,"


def csv_bytes(*rows: str, header: str = HEADER, bom: bool = False) -> io.BytesIO:
    text = "\n".join([header, *rows]) + "\n"
    return io.BytesIO(("\ufeff" if bom else "").encode() + text.encode("utf-8"))


def messages(result_or_report) -> list[str]:
    return [str(p) for p in result_or_report.problems]


def account_count() -> int:
    return db.session.scalar(select(func.count()).select_from(KeyAccount)) or 0


# --- validation (no database) -----------------------------------------------------


def test_a_good_file_is_parsed_and_normalised():
    result = validate_accounts_csv(csv_bytes(ROW_1, ROW_2, ROW_3))

    assert result.problems == []
    assert (result.total_rows, result.invalid_rows, result.no_contact) == (3, 0, 1)
    assert result.rows[0] == AccountRow(
        line=2,
        external_id="KA001",
        name="上海华联超市",
        tier="A",
        value_type="extrinsic",
        relationship_stage="partner",
        region="华东",
        annual_revenue=1_200_000,
        account_manager="王伟",
        contact_name="李娜",
        contact_email="lina@example.com",
        contact_phone="+86 21 5555 0101",
        locale="zh",
    )
    second, third = result.rows[1], result.rows[2]
    # English and Chinese labels, any case for codes; empty revenue is 0.
    assert (second.tier, second.value_type, second.relationship_stage) == (
        "B",
        "intrinsic",
        "vendor",
    )
    assert (second.annual_revenue, second.contact_email, second.locale) == (0, None, "en")
    assert (third.value_type, third.relationship_stage, third.locale) == (
        "strategic",
        "strategic_alliance",
        "zh",
    )
    assert (third.contact_email, third.contact_phone, third.has_contact) == (None, None, False)


def test_header_is_case_insensitive_order_free_and_may_have_spaces():
    columns = list(reversed(ACCOUNT_COLUMNS))
    header = ",".join(f"  {c.upper()} " for c in columns)
    values = dict(zip(ACCOUNT_COLUMNS, next(csv.reader([ROW_1])), strict=True))
    row = ",".join(f'"{values[c]}"' for c in columns)

    result = validate_accounts_csv(csv_bytes(row, header=header))

    assert result.problems == []
    assert result.rows[0].annual_revenue == 1_200_000
    assert result.rows[0].name == "上海华联超市"


def test_every_kind_of_bad_row_is_reported_at_its_line():
    long_id = "K" * 65
    rows = [
        ROW_1,  # line 2: fine
        ",,A,extrinsic,partner,,,,,,,",  # 3: required values missing
        f"{long_id},{'名' * 201},Z,gold,friend,华东,abc,王伟,,a@b,12345,fr",  # 4
        "KA010,Neg,A,extrinsic,partner,华东,-5,王伟,,x@example.com,,",  # 5
        "KA011,Dec,A,extrinsic,partner,华东,1.5,王伟,,,call me,zh",  # 6
        "KA012,Short,A,extrinsic,partner,华东,0,王伟,,,12-3,en",  # 7
        "KA013,Too,few,cells",  # 8
        "",  # 9: blank lines are skipped
        ",,,,,,,,,,,",  # 10: a spreadsheet's empty row is skipped too
        "KA001,Again,A,extrinsic,partner,华东,0,王伟,,,,",  # 11: duplicate of line 2
        "KA014,Bad sep,A,extrinsic,partner,华东,1,2,王伟,,,,",  # 12: unquoted comma
    ]

    result = validate_accounts_csv(csv_bytes(*rows))

    assert messages(result) == [
        "line 2: external_id: 'KA001' is also on line 11",
        "line 3: external_id: is required",
        "line 3: name: is required",
        "line 3: region: is required",
        "line 3: account_manager: is required",
        "line 4: external_id: is 65 characters long; at most 64 are allowed",
        "line 4: name: is 201 characters long; at most 200 are allowed",
        "line 4: tier: 'Z' is not a tier; use A, B or C",
        "line 4: value_type: 'gold' is not a value type; use intrinsic, extrinsic or "
        "strategic (or the Chinese or English label)",
        "line 4: relationship_stage: 'friend' is not a relationship stage; use vendor, "
        "preferred_supplier, partner or strategic_alliance (or the Chinese or English label)",
        "line 4: annual_revenue: 'abc' is not a whole number (write e.g. 1200000 or 1,200,000)",
        "line 4: contact_email: 'a@b' is not a valid e-mail address",
        "line 4: locale: 'fr' is not a supported language; use zh or en",
        "line 5: annual_revenue: '-5' is negative; it must be 0 or more",
        "line 6: annual_revenue: '1.5' must be a whole number (no decimals)",
        "line 6: contact_phone: 'call me': use only digits, spaces and + - ( )",
        "line 7: contact_phone: '12-3' is 4 characters long; use 5 to 40",
        "line 8: has 4 cells but the header has 12",
        "line 11: external_id: 'KA001' is also on line 2",
        "line 12: has 13 cells but the header has 12 "
        '(put values that contain a comma in "double quotes")',
    ]
    assert (result.total_rows, result.invalid_rows, result.rows) == (9, 9, [])


def test_an_id_repeated_three_times_names_the_other_lines():
    row = "KA7,N,A,extrinsic,partner,华东,0,王伟,,,,"
    result = validate_accounts_csv(csv_bytes(row, ROW_1, row, row))
    assert messages(result) == [
        "line 2: external_id: 'KA7' is also on lines 4, 5",
        "line 4: external_id: 'KA7' is also on lines 2, 5",
        "line 5: external_id: 'KA7' is also on lines 2, 4",
    ]
    assert [r.external_id for r in result.rows] == ["KA001"]


def test_header_problems_are_on_line_1_and_stop_the_check():
    header = HEADER.replace("contact_email", "contact_emial").replace(",locale", ",region")
    result = validate_accounts_csv(csv_bytes("KA1,x", header=header))

    assert result.fatal
    assert messages(result) == [
        "line 1: contact_emial: unknown column; did you mean contact_email?",
        "line 1: region: column appears twice in the header",
        "line 1: contact_email: column is missing from the header",
        "line 1: locale: column is missing from the header",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "line 1: the file is empty; the first line must name the columns: " + HEADER),
        (
            b"KA1,Shanghai,A\n",
            "line 1: the first line must name the columns: " + HEADER,
        ),
        (
            HEADER.replace(",", ";").encode() + b"\n",
            "line 1: columns must be separated by commas, not semicolons; "
            "the first line must name the columns: " + HEADER,
        ),
    ],
)
def test_a_file_without_a_usable_header_is_one_clear_problem(content, expected):
    result = validate_accounts_csv(io.BytesIO(content))
    assert messages(result) == [expected]
    assert result.fatal


def test_a_file_that_is_not_utf8_is_one_problem_at_the_first_bad_line():
    text = "\n".join([HEADER, ROW_1.replace("上海华联超市", "Shanghai"), ROW_3]) + "\n"
    content = text.encode("gbk")  # how Excel saves "CSV" on a Chinese Windows

    result = validate_accounts_csv(io.BytesIO(content))

    assert messages(result) == ["line 2: file is not UTF-8 text (save it as UTF-8)"]
    assert result.fatal and result.rows == []


def test_utf8_with_bom_reads_the_first_column_name():
    result = validate_accounts_csv(csv_bytes(ROW_1, bom=True))
    assert result.problems == []
    assert result.rows[0].external_id == "KA001"


def test_a_multi_line_quoted_value_reports_the_line_its_record_starts_on():
    rows = [
        'KA001,"上海华联\n超市\n(浦东店)",A,extrinsic,partner,华东,0,王伟,,,,',  # lines 2-4
        "KA002,Next,A,extrinsic,partner,华东,oops,王伟,,,,",  # line 5
        'KA003,"Two\nlines",Q,extrinsic,partner,华东,0,王伟,,,,',  # lines 6-7
        "KA004,After,A,extrinsic,partner,华东,0,王伟,,,,xx",  # line 8
    ]

    result = validate_accounts_csv(csv_bytes(*rows))

    assert messages(result) == [
        "line 5: annual_revenue: 'oops' is not a whole number (write e.g. 1200000 or 1,200,000)",
        "line 6: tier: 'Q' is not a tier; use A, B or C",
        "line 8: locale: 'xx' is not a supported language; use zh or en",
    ]
    assert result.rows[0].name == "上海华联\n超市\n(浦东店)"


def test_broken_quotes_are_reported_and_the_rest_is_still_checked():
    rows = [
        'KA001,Shanghai "Hualian",A,extrinsic,partner,华东,0,王伟,,,,',  # stray quotes: ok
        'KA002,"Bad" quote,A,extrinsic,partner,华东,0,王伟,,,,',  # 3
        "KA003,Fine,Z,extrinsic,partner,华东,0,王伟,,,,",  # 4
        'KA004,"never closed,A,extrinsic,partner,华东,0,王伟,,,,',  # 5
    ]

    result = validate_accounts_csv(csv_bytes(*rows))

    assert messages(result) == [
        'line 3: a " inside a value: put the whole value in "double quotes" '
        'and write each " inside it twice ("")',
        "line 4: tier: 'Z' is not a tier; use A, B or C",
        'line 5: a quoted value is never closed (a " is missing)',
    ]
    assert [r.name for r in result.rows] == ['Shanghai "Hualian"']


def test_control_characters_are_refused():
    row = "KA001,Bad\x00name,A,extrinsic,partner,华东,0,王伟,,,,"
    assert messages(validate_accounts_csv(csv_bytes(row))) == [
        "line 2: name: contains the control character U+0000"
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", 0),
        ("  ", 0),
        ("0", 0),
        (" 1200000 ", 1_200_000),
        ("1,200,000", 1_200_000),
        ("999", 999),
        ("1,000", 1000),
        ("12,345,678.00", 12_345_678),
    ],
)
def test_revenue_accepts_whole_numbers_with_thousands_separators(text, value):
    assert parse_revenue(text) == value


@pytest.mark.parametrize(
    "text", ["abc", "-5", "1.5", "1,20,000", ",100", "1_000", "１２３", "1e6", "+5", "9" * 20]
)
def test_revenue_rejects_anything_else(text):
    with pytest.raises(ValueError):
        parse_revenue(text)


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("lina@example.com", True),
        ("first.last+tag@mail.example.com.cn", True),
        ("O'Brien@example.ie", True),
        ("a@b", False),
        ("no-at.example.com", False),
        ("two@@example.com", False),
        (".lead@example.com", False),
        ("dots..in@example.com", False),
        ("space in@example.com", False),
        ("李娜@example.com", False),
        ("x@-example.com", False),
    ],
)
def test_email_check(email, valid):
    row = f"KA001,N,A,extrinsic,partner,华东,0,王伟,,{email},,"
    assert validate_accounts_csv(csv_bytes(row)).ok is valid


# --- import -----------------------------------------------------------------------


def test_import_creates_accounts_and_chinese_text_round_trips(app):
    with app.app_context():
        report = import_accounts_csv(csv_bytes(ROW_1, ROW_2, ROW_3, bom=True))
        assert report == type(report)(
            created=3, updated=0, unchanged=0, skipped=0, problems=[], no_contact=1, imported=True
        )

    with app.app_context():  # a fresh session: read what was committed
        account = get_account(external_id="KA001")
        assert (account.name, account.region, account.account_manager) == (
            "上海华联超市",
            "华东",
            "王伟",
        )
        assert account.annual_revenue == 1_200_000
        assert account.active is True
        assert account.created_at is not None and account.created_at.tzinfo is not None
        assert account.defection is None
        assert get_account(external_id="KA003").contacts == []
        primary = get_account(external_id="KA001").primary_contact
        assert primary is not None
        assert (primary.name, primary.email, primary.phone, primary.locale, primary.role) == (
            "李娜",
            "lina@example.com",
            "+86 21 5555 0101",
            "zh",
            "other",
        )


def test_any_problem_imports_nothing(app):
    with app.app_context():
        report = import_accounts_csv(
            csv_bytes(ROW_1, "KA009,x,Z,extrinsic,partner,华东,0,王伟,,,,")
        )
        assert not report.imported
        assert (report.created, report.updated, report.skipped) == (0, 0, 0)
        assert messages(report) == ["line 3: tier: 'Z' is not a tier; use A, B or C"]
        assert account_count() == 0


def test_skip_invalid_imports_the_good_rows_and_reports_the_rest(app):
    with app.app_context():
        with (DATA / "accounts_bad.csv").open("rb") as stream:
            report = import_accounts_csv(stream, skip_invalid=True)

        assert report.imported
        assert (report.created, report.updated, report.unchanged, report.skipped) == (2, 0, 0, 3)
        assert messages(report) == [
            "line 3: tier: 'D' is not a tier; use A, B or C",
            "line 4: annual_revenue: '1.5 million' is not a whole number "
            "(write e.g. 1200000 or 1,200,000)",
            "line 5: account_manager: is required",
            "line 5: locale: 'fr' is not a supported language; use zh or en",
        ]
        ids = db.session.scalars(select(KeyAccount.external_id).order_by(KeyAccount.external_id))
        assert list(ids) == ["KA-2001", "KA-2005"]


def test_skip_invalid_with_no_valid_row_imports_nothing(app):
    with app.app_context():
        report = import_accounts_csv(
            csv_bytes("KA009,x,Z,extrinsic,partner,华东,0,王伟,,,,"), skip_invalid=True
        )
        assert not report.imported
        assert account_count() == 0


def test_a_not_utf8_file_imports_nothing_even_with_skip_invalid(app):
    with app.app_context():
        content = ("\n".join([HEADER, ROW_1]) + "\n").encode("gb18030")
        report = import_accounts_csv(io.BytesIO(content), skip_invalid=True)
        assert not report.imported
        assert messages(report) == ["line 2: file is not UTF-8 text (save it as UTF-8)"]
        assert account_count() == 0


@pytest.fixture(params=["scan", "lookup"])
def existing_by(request, monkeypatch) -> str:
    """Run a test with both ways of finding existing accounts: one scan of a small
    registry, and indexed look-ups in batches for a large one."""
    if request.param == "lookup":
        monkeypatch.setattr(account_import, "FULL_SCAN_MIN", -1)
        monkeypatch.setattr(account_import, "FULL_SCAN_RATIO", -1)
    return request.param


def test_reimport_updates_changed_accounts_only(app, existing_by):
    with app.app_context():
        import_accounts_csv(csv_bytes(ROW_1, ROW_2, ROW_3))
    with app.app_context():
        before = get_account(external_id="KA002").updated_at
        changed = ROW_1.replace("王伟", "张敏")
        new = "KA004,杭州西湖茶业,B,extrinsic,partner,华东,1980000,张敏,,,,"

        report = import_accounts_csv(csv_bytes(ROW_3, ROW_2, changed, new))

        assert (report.created, report.updated, report.unchanged, report.skipped) == (1, 1, 2, 0)
    with app.app_context():
        assert get_account(external_id="KA001").account_manager == "张敏"
        assert get_account(external_id="KA002").updated_at == before
        assert account_count() == 4


def test_import_reactivates_accounts_unless_they_defected(app, existing_by):
    with app.app_context():
        make_account("KA001", **_fields_of(ROW_1), active=False)  # paused, not lost
        lost = make_account("KA002", **_fields_of(ROW_2))
        make_defection(lost, date(2026, 9, 1), ["price"])
        db.session.commit()

        report = import_accounts_csv(csv_bytes(ROW_1, ROW_2))

        assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    with app.app_context():
        assert get_account(external_id="KA001").active is True
        assert get_account(external_id="KA002").active is False


def test_an_import_that_collides_with_another_writes_nothing(app, monkeypatch):
    with app.app_context():
        import_accounts_csv(csv_bytes(ROW_2))
        # As if another import created KA002 between our read and our write.
        monkeypatch.setattr(account_import, "_existing_accounts", lambda ids: {})
        with pytest.raises(ConflictError, match="nothing was imported"):
            import_accounts_csv(csv_bytes(ROW_1, ROW_2, ROW_3))
    with app.app_context():
        assert list(db.session.scalars(select(KeyAccount.external_id))) == ["KA002"]


def _fields_of(row: str) -> dict:
    parsed = validate_accounts_csv(csv_bytes(row)).rows[0]
    contact = {c: getattr(parsed, c) for c in ("contact_name", "contact_email", "contact_phone")}
    return {**parsed.values(), **contact}


def test_import_does_not_query_per_row(app, existing_by):
    rows = [
        f"KA{i:05d},Account {i},A,extrinsic,partner,华东,{i},王伟,,k{i}@example.com,,"
        for i in range(2500)
    ]
    with app.app_context():
        before = len(get_recorded_queries())
        report = import_accounts_csv(csv_bytes(*rows[:1500]))
        first = len(get_recorded_queries()) - before
        assert report.created == 1500

        before = len(get_recorded_queries())
        report = import_accounts_csv(csv_bytes(*rows[1500:], *rows[:1500][::-1]))
        second = len(get_recorded_queries()) - before
        assert (report.created, report.unchanged) == (1000, 1500)

    # Count the registry, read it (once, or one look-up per 1,000 rows), then one
    # insert per 1,000 rows that hold new accounts, and the data version's new token
    # (survey/data_version.py; the first commit also checks its table is there). The
    # primary contacts: the new accounts' ids, the contacts of the file's accounts and
    # the new contacts, one statement per 1,000 of each.
    contacts = (2 + 2 + 2, 1 + 3 + 1)
    if existing_by == "scan":
        assert (first, second) == (1 + 1 + 2 + 2 + contacts[0], 1 + 1 + 1 + 1 + contacts[1])
    else:
        assert (first, second) == (1 + 2 + 2 + 2 + contacts[0], 1 + 3 + 1 + 1 + contacts[1])


@pytest.mark.slow
def test_fifty_thousand_rows_import(app):
    rows = [
        f"KA{i:06d},客户 {i},{'ABC'[i % 3]},extrinsic,partner,华东,{i * 1000},王伟,,,"
        f"138 0000 {i:04d},zh"
        for i in range(50_000)
    ]
    with app.app_context():
        ticks: list[int] = []
        report = import_accounts_csv(csv_bytes(*rows), progress=ticks.append)
        assert (report.created, sum(ticks)) == (50_000, 50_000)
        report = import_accounts_csv(csv_bytes(*rows))
        assert (report.created, report.updated, report.unchanged) == (0, 0, 50_000)


def test_sample_data_file_imports_cleanly(app):
    with app.app_context():
        with (DATA / "accounts_sample.csv").open("rb") as stream:
            report = import_accounts_csv(stream)
        assert messages(report) == []
        assert (report.created, report.no_contact) == (10, 1)
        tiers = dict(
            db.session.execute(
                select(KeyAccount.tier, func.count()).group_by(KeyAccount.tier)
            ).all()
        )
        assert tiers == {"A": 4, "B": 4, "C": 2}


# --- defections -------------------------------------------------------------------


def test_record_defection_marks_the_account_lost(app):
    with app.app_context():
        account_id = make_account("KA001").id
        db.session.commit()

        defection = record_defection(
            external_id="KA001",
            defected_on=date(2026, 10, 1),
            reasons=["Process", "price", "PROCESS", "competitor_offer"],
            competitor="  华润万家  ",
            lost_annual_revenue=900_000,
            note="新的审批流程太慢",
            recorded_by="王伟",
            today=date(2026, 10, 2),
        )

        assert defection.account.id == account_id
        assert [(r.reason, r.is_primary) for r in defection.reasons] == [
            ("process", True),
            ("competitor_offer", False),
            ("price", False),
        ]
        assert defection.primary_reason == "process"
        assert (defection.competitor, defection.lost_annual_revenue) == ("华润万家", 900_000)
    with app.app_context():
        account = get_account(account_id=account_id)
        assert account.active is False
        assert account.defection is not None
        assert account.defection.defected_on == date(2026, 10, 1)
        assert account.defection.recorded_by == "王伟"
        assert account.defection.source == "staff"


def test_record_defection_by_account_id_from_an_exit_survey(app):
    with app.app_context():
        account_id = make_account("KA001").id
        db.session.commit()
        defection = record_defection(
            account_id=account_id,
            defected_on=date(2026, 10, 2),
            reasons=["delivery"],
            source=SOURCE_EXIT_SURVEY,
            today=date(2026, 10, 2),  # today itself is allowed
        )
        assert defection.source == SOURCE_EXIT_SURVEY
        assert defection.lost_annual_revenue is None


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"external_id": "NOPE"}, NotFoundError, "account"),
        ({"external_id": None, "account_id": 999}, NotFoundError, "account"),
        ({"external_id": None}, InvalidInputError, "account"),
        ({"account_id": 1}, InvalidInputError, "account"),
        ({"defected_on": date(2026, 10, 3)}, InvalidInputError, "defected_on"),
        ({"reasons": []}, InvalidInputError, "reasons"),
        ({"reasons": ["price", "weather"]}, InvalidInputError, "reasons"),
        ({"lost_annual_revenue": -1}, InvalidInputError, "lost_annual_revenue"),
        ({"source": "rumour"}, InvalidInputError, "source"),
        ({"competitor": "x" * 201}, InvalidInputError, "competitor"),
    ],
)
def test_record_defection_refuses_bad_input(app, changes, error, field):
    arguments = {
        "external_id": "KA001",
        "defected_on": date(2026, 10, 1),
        "reasons": ["price"],
        "today": date(2026, 10, 2),
    }
    arguments.update(changes)
    with app.app_context():
        make_account("KA001")
        db.session.commit()
        with pytest.raises(error) as caught:
            record_defection(**arguments)
        assert caught.value.field == field
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Defection)) == 0
        assert get_account(external_id="KA001").active is True


def test_unknown_reason_message_lists_the_codes(app):
    with app.app_context(), pytest.raises(InvalidInputError) as caught:
        record_defection(external_id="KA1", defected_on=date(2026, 1, 1), reasons=["weather"])
    assert caught.value.message == (
        "unknown reason 'weather'; use price, product_quality, delivery, service, "
        "communication, process, competitor_offer, profitability, "
        "customer_business_change, other"
    )


def test_a_second_defection_is_a_conflict(app):
    with app.app_context():
        make_defection(make_account("KA001"), date(2026, 9, 1), ["price"])
        db.session.commit()
        with pytest.raises(ConflictError) as caught:
            record_defection(
                external_id="KA001", defected_on=date(2026, 10, 1), reasons=["service"]
            )
        assert caught.value.message == (
            "KA001 already has a defection recorded (left on 2026-09-01)"
        )
        reasons = db.session.scalars(select(DefectionReason.reason))
        assert list(reasons) == ["price"]


def test_list_accounts_filters(app):
    with app.app_context():
        make_account("KA1", tier="A", region="华东")
        make_account("KA2", tier="B", region="华东")
        make_account("KA3", tier="A", region="华北")
        make_defection(make_account("KA4", tier="A", region="华东"), date(2026, 9, 1), ["price"])
        db.session.commit()

        def ids(**filters) -> list[str]:
            return [a.external_id for a in list_accounts(**filters).accounts]

        assert ids() == ["KA1", "KA2", "KA3", "KA4"]
        assert ids(tier="a") == ["KA1", "KA3", "KA4"]
        assert ids(tier="A", region="华东") == ["KA1", "KA4"]
        assert ids(defected=True) == ["KA4"]
        assert ids(defected=False, region="华东") == ["KA1", "KA2"]
        page = list_accounts(limit=2)
        assert (page.total, len(page.accounts)) == (4, 2)
        assert list_accounts(defected=True).accounts[0].defected_on == date(2026, 9, 1)
        with pytest.raises(InvalidInputError):
            list_accounts(tier="Z")


# --- CLI --------------------------------------------------------------------------


def write(tmp_path: Path, *rows: str, name: str = "accounts.csv") -> str:
    path = tmp_path / name
    path.write_bytes(csv_bytes(*rows).getvalue())
    return str(path)


def test_cli_import_prints_a_summary(app, runner, tmp_path):
    result = runner.invoke(args=["accounts", "import", write(tmp_path, ROW_1, ROW_2, ROW_3)])

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "created 3, updated 0, unchanged 0, skipped 0; "
        "1 account has no e-mail or phone and cannot be sampled\n"
    )
    with app.app_context():
        assert account_count() == 3


def test_cli_import_with_problems_imports_nothing_and_fails(app, runner):
    result = runner.invoke(args=["accounts", "import", str(DATA / "accounts_bad.csv")])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "line 3: tier: 'D' is not a tier; use A, B or C",
        "line 4: annual_revenue: '1.5 million' is not a whole number "
        "(write e.g. 1200000 or 1,200,000)",
        "line 5: account_manager: is required",
        "line 5: locale: 'fr' is not a supported language; use zh or en",
    ]
    assert result.stderr == (
        "Error: nothing imported: 4 problems on 3 lines; fix them and import again, "
        "or use --skip-invalid to import the valid rows\n"
    )
    with app.app_context():
        assert account_count() == 0


def test_cli_import_skip_invalid(app, runner):
    result = runner.invoke(
        args=["accounts", "import", str(DATA / "accounts_bad.csv"), "--skip-invalid"]
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "created 2, updated 0, unchanged 0, skipped 3"


def test_cli_import_shows_progress_for_big_files(app, runner, tmp_path):
    rows = [f"KA{i:05d},A {i},A,extrinsic,partner,华东,0,王伟,,,,zh" for i in range(1200)]
    result = runner.invoke(args=["accounts", "import", write(tmp_path, *rows)])
    assert result.exit_code == 0
    assert "Importing accounts" in result.stderr
    assert result.stdout == (
        "created 1200, updated 0, unchanged 0, skipped 0; "
        "1200 accounts have no e-mail or phone and cannot be sampled\n"
    )


def test_cli_import_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["accounts", "import", str(tmp_path / "none.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_cli_defect_then_show_and_list(app, runner):
    with app.app_context():
        make_account("KA001", name="上海华联超市", region="华东")
        make_account("KA002", name="Pearl River Trading", tier="B", region="华南")
        db.session.commit()

    result = runner.invoke(
        args=[
            "accounts",
            "defect",
            "KA001",
            "--on",
            "2026-10-01",
            "--reason",
            "PROCESS",
            "--reason",
            "price",
            "--competitor",
            "华润万家",
            "--lost-revenue",
            "1,200,000",
            "--note",
            "审批太慢",
            "--recorded-by",
            "王伟",
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Recorded: KA001 上海华联超市 left on 2026-10-01 (reasons: process, price); "
        "the account is now inactive.\n"
    )

    shown = runner.invoke(args=["accounts", "show", "KA001"])
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert "name                上海华联超市" in lines
    assert "value_type          extrinsic (外在价值型 / Extrinsic value)" in lines
    assert "status              defected 2026-10-01" in lines
    assert "reasons             process (primary), price" in lines
    assert "lost_revenue        1,200,000" in lines
    assert "competitor          华润万家" in lines

    listed = runner.invoke(args=["accounts", "list", "--defected"])
    assert listed.exit_code == 0
    assert listed.stdout.splitlines() == [
        "ID     NAME          TIER  REGION  MANAGER  CONTACTS  STATUS",
        "KA001  上海华联超市  A     华东    王伟     1         defected 2026-10-01",
    ]
    active = runner.invoke(args=["accounts", "list", "--active", "--tier", "b"])
    assert [line.split()[0] for line in active.stdout.splitlines()] == ["ID", "KA002"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["NOPE", "--on", "2026-10-01", "--reason", "price"], 1, "there is no key account"),
        (["KA001", "--on", "2999-01-01", "--reason", "price"], 1, "is in the future"),
        (["KA001", "--on", "2026-10-01", "--reason", "weather"], 2, "'weather' is not one of"),
        (["KA001", "--on", "01/10/2026", "--reason", "price"], 2, "'01/10/2026'"),
        (["KA001", "--on", "2026-10-01"], 2, "Missing option '--reason'"),
        (
            ["KA001", "--on", "2026-10-01", "--reason", "price", "--lost-revenue", "-5"],
            2,
            "'-5' is negative",
        ),
    ],
)
def test_cli_defect_errors(app, runner, args, code, message):
    with app.app_context():
        make_account("KA001")
        db.session.commit()
    result = runner.invoke(args=["accounts", "defect", *args])
    assert result.exit_code == code
    assert message in result.stderr
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Defection)) == 0


def test_cli_defect_twice_is_refused(app, runner):
    with app.app_context():
        make_account("KA001")
        db.session.commit()
    args = ["accounts", "defect", "KA001", "--on", "2026-10-01", "--reason", "price"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=args)
    assert again.exit_code == 1
    assert again.stderr == ("Error: KA001 already has a defection recorded (left on 2026-10-01)\n")


def test_cli_show_unknown_account(app, runner):
    result = runner.invoke(args=["accounts", "show", "NOPE"])
    assert result.exit_code == 1
    assert result.stderr == "Error: there is no key account with 'NOPE'\n"


# --- properties -------------------------------------------------------------------

_no_control = st.characters(exclude_categories=("Cc", "Cs"))


def _text(max_size: int, *, required: bool) -> st.SearchStrategy[str]:
    strategy = st.text(_no_control, max_size=max_size)
    return strategy.filter(lambda s: bool(s.strip())) if required else strategy


def _labels(enum) -> st.SearchStrategy[tuple[str, str]]:
    """(cell text, expected code) for every way a user may write a member."""
    return st.sampled_from(
        [
            (text, member.value)
            for member in enum
            for text in (member.value, member.value.upper(), member.zh, member.en)
        ]
    )


@st.composite
def valid_rows(draw) -> tuple[list[str], dict]:
    revenue = draw(st.integers(0, 10**15))
    revenue_text = draw(st.sampled_from([str(revenue), f"{revenue:,}", f" {revenue} "]))
    value_type, value_type_code = draw(_labels(ValueType))
    stage, stage_code = draw(_labels(RelationshipStage))
    tier = draw(st.sampled_from(["A", "B", "C", "a", "b", "c"]))
    locale, locale_code = draw(
        st.sampled_from([("", "zh"), ("zh", "zh"), ("en", "en"), ("zh-CN", "zh"), ("EN_us", "en")])
    )
    email = draw(
        st.one_of(
            st.just(""),
            st.from_regex(
                r"[a-z0-9_%+-]{1,10}(\.[a-z0-9_%+-]{1,10})?@[a-z0-9]{1,10}\.[a-z]{2,6}",
                fullmatch=True,
            ),
        )
    )
    phone = draw(
        st.one_of(st.just(""), st.from_regex(r"[0-9+][0-9 ()+-]{3,38}[0-9]", fullmatch=True))
    )
    cells = {
        "external_id": draw(_text(64, required=True)),
        "name": draw(_text(200, required=True)),
        "tier": tier,
        "value_type": value_type,
        "relationship_stage": stage,
        "region": draw(_text(100, required=True)),
        "annual_revenue": revenue_text,
        "account_manager": draw(_text(120, required=True)),
        "contact_name": draw(_text(120, required=False)),
        "contact_email": email,
        "contact_phone": phone,
        "locale": locale,
    }
    expected = {
        "external_id": cells["external_id"].strip(),
        "name": cells["name"].strip(),
        "tier": tier.upper(),
        "value_type": value_type_code,
        "relationship_stage": stage_code,
        "region": cells["region"].strip(),
        "annual_revenue": revenue,
        "account_manager": cells["account_manager"].strip(),
        "contact_name": cells["contact_name"].strip(),
        "contact_email": email or None,
        "contact_phone": phone or None,
        "locale": locale_code,
    }
    return [cells[c] for c in ACCOUNT_COLUMNS], expected


def _to_csv(rows: list[list[str]], header: Sequence[str] = ACCOUNT_COLUMNS) -> io.BytesIO:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode("utf-8"))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(valid_rows(), min_size=1, max_size=3, unique_by=lambda r: r[1]["external_id"]))
def test_any_valid_row_imports_and_reads_back_equal(app, drawn):
    rows = [cells for cells, _ in drawn]
    with app.app_context():
        report = import_accounts_csv(_to_csv(rows))
        assert report.problems == []
        assert report.imported and report.created + report.updated + report.unchanged == len(rows)
    with app.app_context():
        for _, expected in drawn:
            account = get_account(external_id=expected["external_id"])
            primary = account.primary_contact
            contact = {
                "contact_name": primary.name if primary else "",
                "contact_email": primary.email if primary else None,
                "contact_phone": primary.phone if primary else None,
            }
            stored = {
                c: contact[c] if c in contact else getattr(account, c) for c in ACCOUNT_COLUMNS
            }
            assert stored == expected


_cells = st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=8), min_size=1, max_size=14),
    st.lists(
        st.one_of(
            st.lists(_cells, min_size=len(ACCOUNT_COLUMNS), max_size=len(ACCOUNT_COLUMNS)),
            st.lists(_cells, max_size=14),
        ),
        max_size=6,
    ),
)
def test_the_validator_never_crashes_on_arbitrary_cells(header_noise, rows):
    # Mostly a correct header, so the row checks are reached.
    header = header_noise if len(header_noise) == 1 else ACCOUNT_COLUMNS
    content = _to_csv(rows, header)
    lines = len(re.findall(rb"\r\n|\r|\n", content.getvalue())) + 1

    result = validate_accounts_csv(content)

    assert all(isinstance(p, Problem) and 1 <= p.line <= lines for p in result.problems)
    if not result.fatal:
        assert len(result.rows) + result.invalid_rows == result.total_rows
    for row in result.rows:  # whatever passes fits the database
        assert row.tier in TIERS and row.locale in ("zh", "en")
        assert 0 < len(row.external_id) <= 64 and 0 < len(row.name) <= 200
        assert row.value_type in ValueType.codes()
        assert row.relationship_stage in RelationshipStage.codes()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_the_validator_never_crashes_on_arbitrary_bytes(content):
    result = validate_accounts_csv(io.BytesIO(HEADER.encode() + b"\n" + content))
    assert all(p.line >= 1 for p in result.problems)
