"""Importing contacts (the buying centre) from CSV: checks, upserts, the primary rules."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from survey.db import db
from survey.models import Contact, KeyAccount
from survey.registry import CONTACT_CSV_COLUMNS, import_accounts_csv, import_contacts_csv

from .factories import make_account, make_contact

DATA = Path(__file__).parent / "data"
HEADER = ",".join(CONTACT_CSV_COLUMNS)
#: (locale, primary, opted out) of a Chinese-speaking contact, primary or not.
ZH_PRIMARY = ("zh", True, False)
ZH_OTHER = ("zh", False, False)


def csv_bytes(*rows: str, bom: bool = False) -> io.BytesIO:
    text = "\n".join([HEADER, *rows]) + "\n"
    return io.BytesIO(("\ufeff" if bom else "").encode() + text.encode("utf-8"))


def contacts_of(external_id: str) -> list[tuple]:
    """(name, role, email, phone, locale, primary, opted out) in id order."""
    return [
        tuple(r)
        for r in db.session.execute(
            select(
                Contact.name,
                Contact.role,
                Contact.email,
                Contact.phone,
                Contact.locale,
                Contact.is_primary,
                Contact.opted_out_at.is_not(None),
            )
            .join(KeyAccount, KeyAccount.id == Contact.account_id)
            .where(KeyAccount.external_id == external_id)
            .order_by(Contact.id)
        )
    ]


def _registry(app: Flask) -> None:
    with app.app_context():
        make_account("KA1", contact_name="李娜", contact_email="lina@example.com")
        make_account("KA2", contact_name="Ann", contact_email=None, contact_phone="020 5555 0102")
        make_account("KA3", contact_name="", contact_email=None, locale="en")  # no contact
        db.session.commit()


BAD = (
    "KA1,李娜,boss,lina@example.com,,zh,yes",
    "KA1,周强,采购,zhou@,,,no",
    "KA9,Nobody,user,nobody@example.com,,,",
    "KA2,王芳,finance,,,,",
    "KA2,赵磊,决策者,zhaolei@example.com,,fr,maybe",
    "KA1,Tom,user,TOM@example.com,,en,",
    "KA1,Tom Lee,user,tom@example.com,,en,",
    'KA3,"x' + "y" * 120 + '",user,,12,,',
)


def test_every_problem_is_reported_on_its_line_and_nothing_is_imported(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        report = import_contacts_csv(csv_bytes(*BAD))
        assert [str(p) for p in report.problems] == [
            "line 2: role: 'boss' is not a contact role; use decision_maker, purchaser, user, "
            "technical, finance or other (or the Chinese or English label)",
            "line 3: email: 'zhou@' is not a valid e-mail address",
            "line 4: account_external_id: 'KA9' is not a key account in the registry "
            "(import it with flask accounts import first)",
            "line 5: email: an e-mail or a phone is required",
            "line 6: locale: 'fr' is not a supported language; use zh or en",
            "line 6: primary: 'maybe' is not yes or no; use yes, no, 是, 否, 1 or 0",
            "line 7: email: 'TOM@example.com' of account 'KA1' is also on line 8",
            "line 8: email: 'tom@example.com' of account 'KA1' is also on line 7",
            "line 9: name: is 121 characters long; at most 120 are allowed",
            "line 9: phone: '12' is 2 characters long; use 5 to 40",
        ]
        assert (report.imported, report.created, report.updated) == (False, 0, 0)
        assert contacts_of("KA1") == [
            ("李娜", "other", "lina@example.com", None, "zh", True, False)
        ]


def test_two_primaries_for_one_account_in_one_file_is_an_error(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        report = import_contacts_csv(
            csv_bytes(
                "KA1,周强,purchaser,zhou@example.com,,,yes",
                "KA1,Emma,user,emma@example.com,,en,no",
                "KA1,Tom,user,tom@example.com,,en,是",
            )
        )
        assert [str(p) for p in report.problems] == [
            "line 2: primary: account 'KA1' can have one primary contact, but line 4 also "
            "marks one",
            "line 4: primary: account 'KA1' can have one primary contact, but line 2 also "
            "marks one",
        ]
        assert not report.imported


def test_the_sample_file_with_its_bom_imports_and_again_changes_nothing(
    app: Flask, runner: FlaskCliRunner
) -> None:
    assert (DATA / "contacts_sample.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    with app.app_context():
        import_accounts_csv(io.BytesIO((DATA / "accounts_sample.csv").read_bytes()))
    first = runner.invoke(args=["contacts", "import", str(DATA / "contacts_sample.csv")])
    assert first.exit_code == 0, first.output
    # 李娜, 赵磊 and Michael Lee are the accounts' primary contacts already (by e-mail).
    assert first.output == "created 4, updated 3, unchanged 0, skipped 0\n"
    again = runner.invoke(args=["contacts", "import", str(DATA / "contacts_sample.csv")])
    assert again.output == "created 0, updated 0, unchanged 7, skipped 0\n"
    with app.app_context():
        assert contacts_of("KA-1001") == [
            ("李娜", "decision_maker", "lina@hualian.example.cn", "+86 21 5555 0101", *ZH_PRIMARY),
            ("周强", "purchaser", "zhouqiang@hualian.example.cn", "+86 21 5555 0111", *ZH_OTHER),
            ("Emma Chen", "user", "emma.chen@hualian.example.cn", None, "en", False, False),
        ]
        # No locale: the account's language.
        assert contacts_of("KA-1002")[1] == (
            "王芳",
            "finance",
            None,
            "010-6555 0122",
            "zh",
            False,
            False,
        )


def test_upsert_by_email_case_insensitive_and_by_phone_without_email(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        report = import_contacts_csv(
            csv_bytes(
                "KA1,李娜 (Lina),decision_maker,LINA@example.com,021 5555 0101,,",
                "KA2,Ann Lee,purchaser,,020 5555 0102,en,",
                "KA2,Bob,user,,020 5555 0199,,",
            )
        )
        assert (report.created, report.updated, report.unchanged) == (1, 2, 0)
        assert contacts_of("KA1") == [
            ("李娜 (Lina)", "decision_maker", "LINA@example.com", "021 5555 0101", *ZH_PRIMARY)
        ]
        assert contacts_of("KA2") == [
            ("Ann Lee", "purchaser", None, "020 5555 0102", "en", True, False),
            ("Bob", "user", None, "020 5555 0199", "zh", False, False),
        ]


def test_a_primary_line_takes_the_flag_and_an_account_gets_a_primary(app: Flask) -> None:
    _registry(app)
    with app.app_context():
        report = import_contacts_csv(
            csv_bytes(
                "KA1,周强,purchaser,zhou@example.com,,,1",
                "KA1,李娜,decision_maker,lina@example.com,,,no",  # "no" leaves a flag alone
                "KA3,Tom,user,tom@example.com,,,",
                "KA3,Emma,user,emma@example.com,,zh,否",
            )
        )
        assert (report.created, report.updated, report.unchanged) == (3, 1, 0)
        assert [(c[0], c[5]) for c in contacts_of("KA1")] == [("李娜", False), ("周强", True)]
        # KA3 had no contact: its first one (in file order) becomes primary, in the
        # account's language unless the row gives one.
        assert [(c[0], c[4], c[5]) for c in contacts_of("KA3")] == [
            ("Tom", "en", True),
            ("Emma", "zh", False),
        ]


def test_skip_invalid_imports_the_valid_lines_and_lists_the_rest(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    _registry(app)
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        csv_bytes("KA9,X,user,x@example.com,,,", "KA1,Tom,user,tom@x.example,,,").read()
    )
    refused = runner.invoke(args=["contacts", "import", str(path)])
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1] == (
        "Error: nothing imported: 1 problem on 1 line; fix them and import again, "
        "or use --skip-invalid to import the valid rows"
    )
    result = runner.invoke(args=["contacts", "import", str(path), "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "line 2: account_external_id: 'KA9' is not a key account in the registry "
        "(import it with flask accounts import first)",
        "created 1, updated 0, unchanged 0, skipped 1",
    ]
    with app.app_context():
        assert [c[0] for c in contacts_of("KA1")] == ["李娜", "Tom"]


def test_the_accounts_csv_keeps_the_primary_contact(app: Flask) -> None:
    """The account CSV's contact columns update the primary contact, or make the
    contact with that e-mail primary, or create one; empty ones change nothing."""
    with app.app_context():
        account = make_account("KA1", contact_name="李娜", contact_email="lina@example.com")
        make_contact(account, name="周强", role="purchaser", email="zhou@example.com")
        make_account("KA2", contact_name="", contact_email=None)
        make_account("KA3")
        db.session.commit()
        head = (
            "external_id,name,tier,value_type,relationship_stage,region,annual_revenue,"
            "account_manager,contact_name,contact_email,contact_phone,locale"
        )
        rows = [
            "KA1,Account KA1,A,extrinsic,partner,华东,1000000,王伟,周强,zhou@example.com,,zh",
            "KA2,Account KA2,A,extrinsic,partner,华东,1000000,王伟,Ann,ann@example.com,,en",
            "KA3,Account KA3,A,extrinsic,partner,华东,1000000,王伟,,,,zh",
        ]
        text = "\n".join([head, *rows]) + "\n"
        report = import_accounts_csv(io.BytesIO(text.encode()))
        assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
        assert [(c[0], c[2], c[5]) for c in contacts_of("KA1")] == [
            ("李娜", "lina@example.com", False),
            ("周强", "zhou@example.com", True),
        ]
        assert contacts_of("KA2") == [("Ann", "other", "ann@example.com", None, "en", True, False)]
        assert [c[0] for c in contacts_of("KA3")] == ["李娜"]


def test_accounts_show_lists_every_contact(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        account = make_account("KA1", contact_name="李娜", contact_email="lina@example.com")
        make_contact(account, name="Emma", role="user", email="emma@example.com", locale="en")
        db.session.commit()
    result = runner.invoke(args=["accounts", "show", "KA1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "contact_name        李娜" in lines
    assert "contact_email       lina@example.com" in lines
    assert [line for line in lines if line.startswith("contact ")] == [
        "contact             李娜; other (其他 / Other); lina@example.com; -; zh; primary",
        "contact             Emma; user (使用者 / User); emma@example.com; -; en",
    ]
