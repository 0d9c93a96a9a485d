"""`flask campaign launch | links | close | list`, end to end through the CLI runner."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from survey.db import db
from survey.models import Campaign, Invitation, KeyAccount
from survey.tokens import hash_token

from .conftest import BASE_URL
from .factories import make_account, make_campaign, make_response

HEADER = (
    "external_id,account,contact_name,contact_email,contact_phone,language,url,status,contact_role"
)


def registry(app) -> None:
    """Tiers A:2, B:3, C:5 in the frame; one inactive and one opted-out account."""
    with app.app_context():
        number = 0
        for tier, how_many in (("A", 2), ("B", 3), ("C", 5)):
            for _ in range(how_many):
                number += 1
                make_account(f"KA{number:02d}", tier=tier)
        make_account("KA90", active=False)
        make_account("KA91", opted_out_at=datetime(2026, 1, 1, tzinfo=UTC))
        db.session.commit()


def campaign_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Campaign)) or 0


PLAN_OUTPUT = (
    "Sampling frame: 10 accounts\n"
    "Excluded: inactive 1, no_contact 0, opted_out 1, recently_surveyed 0, open_case 0 (total 2)\n"
    "Invites: the primary contact of each sampled account\n"
    "tier     frame   sample  contacts\n"
    "A            2        1         1\n"
    "B            3        1         1\n"
    "C            5        3         3\n"
    "total       10        5         5\n"
    "Method: stratified; seed: 7\n"
    # 5 invitations at the default 30% rate: 1 expected answer, which tells little.
    "Expected margin of error (95%, worst case) at a 30% response rate: ±98.0 points\n"
)


def test_dry_run_prints_the_plan_and_writes_nothing(app, runner):
    registry(app)
    result = runner.invoke(
        args=[
            "campaign",
            "launch",
            "--name",
            "2026 Q4",
            "--size",
            "5",
            "--stratify-by",
            "tier",
            "--seed",
            "7",
            "--dry-run",
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output == PLAN_OUTPUT + "Dry run: nothing was written.\n"
    assert campaign_count(app) == 0


def test_launch_then_links_then_close(app, runner, tmp_path):
    registry(app)
    result = runner.invoke(
        args=[
            *("campaign", "launch", "--name", "2026 Q4", "--size", "5"),
            *("--stratify-by", "tier", "--seed", "7", "--closes-in", "21"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(PLAN_OUTPUT)
    assert (
        "Launched campaign ID 1 '2026 Q4': 5 invitations to 5 accounts, open until "
        in result.output
    )
    assert "flask campaign links 1 --output links.csv" in result.output
    with app.app_context():
        campaign = db.session.get(Campaign, 1)
        assert campaign is not None
        assert (campaign.seed, campaign.sample_size, campaign.created_by) == (7, 5, "cli")
        days_open = campaign.closes_at - campaign.opens_at
        assert days_open == timedelta(days=21)

    links = runner.invoke(args=["campaign", "links", "1"])
    assert links.exit_code == 0, links.output
    rows = list(csv.reader(io.StringIO(links.output)))
    assert ",".join(rows[0]) == HEADER
    assert len(rows) == 6
    with app.app_context():
        for row in rows[1:]:
            token = row[6].removeprefix(f"{BASE_URL}/s/")
            invitation = db.session.scalars(
                select(Invitation).where(Invitation.token_hash == hash_token(token))
            ).one()
            account = db.session.get(KeyAccount, invitation.account_id)
            assert account is not None and account.external_id == row[0]
            assert row[5:] == ["zh", row[6], "pending", "other"]

    closed = runner.invoke(args=["campaign", "close", "1"])
    assert closed.exit_code == 0, closed.output
    assert closed.output.startswith("Campaign 1 '2026 Q4' is closed (since ")
    statuses = [
        r[7] for r in csv.reader(io.StringIO(runner.invoke(args=["campaign", "links", "1"]).output))
    ]
    assert statuses[1:] == ["expired"] * 5
    # Closing twice is harmless.
    assert runner.invoke(args=["campaign", "close", "1"]).exit_code == 0


def test_links_csv_is_exact_and_formula_safe(app, runner, tmp_path):
    with app.app_context():
        a = make_account(
            "KA1",
            name='=HYPERLINK("http://evil")',
            contact_name="@Ann",
            contact_email=None,
            contact_phone="+44 20 7946 0000",
            locale="en",
        )
        b = make_account("KA2", name="上海华联, 总部", contact_name="李娜", contact_phone="-")
        campaign, tokens = make_campaign("Q4", accounts=[b, a])
        db.session.commit()
        campaign_id, token_a, token_b = campaign.id, tokens[a.id], tokens[b.id]

    result = runner.invoke(args=["campaign", "links", str(campaign_id)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        HEADER + "\n"
        f'KA1,"\'=HYPERLINK(""http://evil"")",\'@Ann,,\'+44 20 7946 0000,en,'
        f"{BASE_URL}/s/{token_a},sent,other\n"
        f'KA2,"上海华联, 总部",李娜,ka2@example.com,\'-,zh,{BASE_URL}/s/{token_b},sent,other\n'
    )

    path = tmp_path / "links.csv"
    written = runner.invoke(args=["campaign", "links", str(campaign_id), "--output", str(path)])
    assert written.exit_code == 0, written.output
    assert f"Wrote 2 links to {path}." in written.output
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    assert raw.decode("utf-8-sig") == result.output


def test_list_campaigns(app, runner):
    assert runner.invoke(args=["campaign", "list"]).output == (
        "No campaigns yet. Start one with: flask campaign launch --name NAME --size N\n"
    )
    with app.app_context():
        accounts = [make_account(f"KA{n}") for n in range(4)]
        closes = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
        campaign, _ = make_campaign("2026 Q4 满意度", accounts=accounts, closes_at=closes)
        make_response(campaign, accounts[0], {"overall": 5})
        db.session.commit()
    result = runner.invoke(args=["campaign", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "  ID  status  method      by                  sampled  responded   rate  "
        "closes (UTC)      name",
        "   1  open    simple      -                         4          1    25%  "
        "2026-12-01 08:30  2026 Q4 满意度",
    ]


def test_errors_are_clear_and_exit_1(app, runner):
    registry(app)
    cases = [
        (["--name", "Q4", "--size", "0"], "Error: --size: The sample size must be at least 1"),
        (["--name", "Q4", "--size", "50"], "only 10 accounts are eligible"),
        (["--name", "Q4", "--size", "2", "--fraction", "0.5"], "not both or neither"),
        (["--name", "Q4"], "Error: --size: Give either a sample size or a fraction"),
        (["--name", "Q4", "--fraction", "1.5"], "Error: --fraction:"),
        (["--name", " ", "--size", "1"], "Error: --name: The campaign needs a name."),
        (["--name", "Q4", "--size", "1", "--exclude-days", "-3"], "Error: --exclude-days:"),
        (["--name", "Q4", "--size", "1", "--closes-in", "0"], "Error: --closes-in:"),
    ]
    for options, message in cases:
        result = runner.invoke(args=["campaign", "launch", *options])
        assert result.exit_code == 1, (options, result.output)
        assert message in result.output, (options, result.output)
    assert campaign_count(app) == 0

    assert runner.invoke(args=["campaign", "launch", "--name", "Q4", "--size", "1"]).exit_code == 0
    duplicate = runner.invoke(args=["campaign", "launch", "--name", "Q4", "--size", "1"])
    assert duplicate.exit_code == 1
    assert "Error: --name: A campaign named 'Q4' already exists (ID 1)" in duplicate.output

    for command in ("links", "close"):
        missing = runner.invoke(args=["campaign", command, "99"])
        assert missing.exit_code == 1
        assert "Error: CAMPAIGN_ID: There is no campaign with ID 99." in missing.output


def test_unknown_stratification_is_a_usage_error(app, runner):
    result = runner.invoke(
        args=["campaign", "launch", "--name", "Q4", "--size", "1", "--stratify-by", "colour"]
    )
    assert result.exit_code == 2
    assert "'colour' is not one of 'tier', 'value_type', 'relationship_stage', 'region'" in (
        result.output
    )


def test_allocation_table_aligns_chinese_strata(app, runner):
    with app.app_context():
        for number, region in enumerate(["华东", "华东", "华北", "Overseas"]):
            make_account(f"KA{number}", region=region)
        db.session.commit()
    result = runner.invoke(
        args=[
            *("campaign", "launch", "--name", "Q4", "--size", "3"),
            *("--stratify-by", "region", "--seed", "1", "--dry-run"),
        ]
    )
    assert result.exit_code == 0, result.output
    # Each Chinese character takes two terminal columns.
    assert result.output.splitlines()[3:8] == [
        "region      frame   sample  contacts",
        "Overseas        1        1         1",
        "华东            2        1         1",
        "华北            1        1         1",
        "total           4        3         3",
    ]
