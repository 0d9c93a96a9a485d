"""Who may run what: every query and mutation of the schema, with no token, a revoked
token, and each role. The list of operations comes from the schema itself, so a new
field without an entry in RULES fails `test_every_operation_has_a_rule`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import graphql
import pytest
from sqlalchemy import func, select, update

from schema.build import schema as api_schema
from survey.campaigns import ScheduleSpec, create_schedule
from survey.db import db
from survey.delivery import create_endpoint
from survey.events import emit
from survey.models import (
    AuditEntry,
    Campaign,
    Defection,
    FollowUp,
    Invitation,
    Response,
    WebhookDelivery,
)
from survey.registry.staff import add_staff, revoke_staff
from survey.scale import DEFAULT_ASPECTS

from .conftest import TEST_SECRET
from .factories import make_account, make_campaign
from .graphql_data import Data, build
from .graphql_helpers import codes, make_tokens

NOBODY, REVOKED, VIEWER, MANAGER, ADMIN = "nobody", "revoked", "viewer", "manager", "admin"
PRINCIPALS = (NOBODY, REVOKED, VIEWER, MANAGER, ADMIN)
#: Who may do what a role may do (roles only grow upwards).
ALLOWED = {
    VIEWER: {VIEWER, MANAGER, ADMIN},
    MANAGER: {MANAGER, ADMIN},
    ADMIN: {ADMIN},
}

Variables = Callable[[Data, str], dict[str, Any]]
#: The schedule the pause and resume rules act on (filled by `world`).
_SCHEDULES: dict[str, int] = {}


def _new_schedule(_data: Data, who: str) -> dict[str, Any]:
    return {
        "input": {"name": f"Plan of {who}", "every": "QUARTER", "startsOn": "2026-01-01",
                  "sampleSize": 2}
    }  # fmt: skip


def _schedule(_data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(_SCHEDULES["plan"])}


def _none(_data: Data, _who: str) -> dict[str, Any]:
    return {}


def _account(data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(data.accounts["KA1"])}


def _campaign(data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(data.campaigns["C1"])}


def _open_campaign(data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(data.campaigns["C2"])}


#: Who -> an unanswered invitation of an open campaign (filled by `world`), so each
#: allowed caller really records a phone interview.
_PHONE_INVITATIONS: dict[str, int] = {}


def _phone(_data: Data, who: str) -> dict[str, Any]:
    invitation = _PHONE_INVITATIONS.get(who, _PHONE_INVITATIONS[MANAGER])
    answers = [{"aspect": a.code, "score": 4} for a in DEFAULT_ASPECTS]
    return {"input": {"invitationId": str(invitation), "answers": answers}}


def _two_campaigns(data: Data, _who: str) -> dict[str, Any]:
    return {"a": str(data.campaigns["C1"]), "b": str(data.campaigns["C2"])}


#: The follow-up case the managers update (filled by `world`).
_FOLLOW_UPS: dict[str, int] = {}


def _follow_up(_data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(_FOLLOW_UPS["case"])}


def _launch(_data: Data, who: str) -> dict[str, Any]:
    return {"input": {"name": f"Authz {who}", "sampleSize": 1, "seed": 3}}


def _defection(data: Data, who: str) -> dict[str, Any]:
    # A different active account per allowed caller, so each one really records.
    account = {MANAGER: "KA1", ADMIN: "KA2"}.get(who, "KA3")
    return {
        "input": {
            "accountId": str(data.accounts[account]),
            "defectedOn": "2026-10-01",
            "primaryReason": "PRICE",
        }
    }


#: The webhook endpoint and its failed delivery the admins delete or send again.
_WEBHOOKS: dict[str, int] = {}


def _webhook(_data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(_WEBHOOKS["endpoint"])}


def _webhook_delivery(_data: Data, _who: str) -> dict[str, Any]:
    return {"id": str(_WEBHOOKS["delivery"])}


def _new_webhook(_data: Data, who: str) -> dict[str, Any]:
    return {"input": {"url": f"https://{who}.example.com/h", "events": ["CAMPAIGN_CLOSED"]}}


def _accounts_input(_data: Data, who: str) -> dict[str, Any]:
    account = {
        "externalId": f"SYNC-{who}",
        "name": who,
        "tier": "B",
        "valueType": "strategic",
        "relationshipStage": "partner",
        "region": "华东",
        "annualRevenue": 1000,
        "accountManager": "王伟",
    }
    return {"input": [account]}


#: (root type, field) -> (document, variables, least role allowed)
RULES: dict[tuple[str, str], tuple[str, Variables, str]] = {
    ("Query", "accounts"): ("{ accounts(first: 1) { totalCount } }", _none, VIEWER),
    ("Query", "account"): ("query($id: ID!) { account(id: $id) { name } }", _account, VIEWER),
    ("Query", "campaigns"): ("{ campaigns(first: 1) { totalCount } }", _none, VIEWER),
    ("Query", "campaign"): (
        "query($id: ID!) { campaign(id: $id) { name } }",
        _campaign,
        VIEWER,
    ),
    ("Query", "responses"): ("{ responses(first: 2) { totalCount } }", _none, VIEWER),
    ("Query", "satisfactionSummary"): (
        "{ satisfactionSummary(groupBy: ASPECT) { key } }",
        _none,
        VIEWER,
    ),
    ("Query", "dissatisfactionDrilldown"): (
        "{ dissatisfactionDrilldown(by: [ASPECT]) { key } }",
        _none,
        VIEWER,
    ),
    ("Query", "defectionReasons"): ("{ defectionReasons { key } }", _none, VIEWER),
    ("Query", "atRiskAccounts"): ("{ atRiskAccounts { dissatisfiedAspects } }", _none, VIEWER),
    ("Query", "commentThemes"): ("{ commentThemes { term count } }", _none, VIEWER),
    ("Query", "me"): ("{ me { name role } }", _none, VIEWER),
    ("Query", "rateLimit"): ("{ rateLimit { cost remaining } }", _none, VIEWER),
    ("Query", "currency"): ("{ currency }", _none, VIEWER),
    ("Query", "compareCampaigns"): (
        "query($a: ID!, $b: ID!) { compareCampaigns(a: $a, b: $b) { significant } }",
        _two_campaigns,
        VIEWER,
    ),
    ("Query", "coverage"): ("{ coverage(groupBy: TIER) { key } }", _none, VIEWER),
    ("Query", "unheardAccounts"): ("{ unheardAccounts { externalId } }", _none, VIEWER),
    ("Query", "aspectDefectionRisk"): ("{ aspectDefectionRisk { aspect } }", _none, VIEWER),
    ("Query", "keyDrivers"): ("{ keyDrivers(unit: ACCOUNT) { n r2 } }", _none, VIEWER),
    ("Query", "followUps"): ("{ followUps { totalCount } }", _none, VIEWER),
    ("Query", "recovery"): ("{ recovery { accounts } }", _none, VIEWER),
    ("Query", "staffTokens"): ("{ staffTokens { staffName } }", _none, ADMIN),
    ("Query", "auditLog"): ("{ auditLog { totalCount } }", _none, ADMIN),
    ("Query", "webhooks"): ("{ webhooks { id url } }", _none, ADMIN),
    ("Query", "webhookDeliveries"): ("{ webhookDeliveries { totalCount } }", _none, ADMIN),
    ("Mutation", "createWebhook"): (
        "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret } }",
        _new_webhook,
        ADMIN,
    ),
    ("Mutation", "deleteWebhook"): (
        "mutation($id: ID!) { deleteWebhook(id: $id) }",
        _webhook,
        ADMIN,
    ),
    ("Mutation", "redeliverWebhook"): (
        "mutation($id: ID!) { redeliverWebhook(id: $id) { status } }",
        _webhook_delivery,
        ADMIN,
    ),
    ("Mutation", "upsertAccounts"): (
        "mutation($input: [AccountInput!]!) { upsertAccounts(input: $input) { created } }",
        _accounts_input,
        ADMIN,
    ),
    ("Query", "schedules"): ("{ schedules { name nextRun } }", _none, MANAGER),
    ("Query", "scheduleTrend"): (
        "query($id: ID!) { scheduleTrend(id: $id) { cycle } }",
        _schedule,
        VIEWER,
    ),
    ("Mutation", "createSchedule"): (
        "mutation($input: CreateScheduleInput!) { createSchedule(input: $input) { id } }",
        _new_schedule,
        MANAGER,
    ),
    ("Mutation", "pauseSchedule"): (
        "mutation($id: ID!) { pauseSchedule(id: $id) { paused } }",
        _schedule,
        MANAGER,
    ),
    ("Mutation", "resumeSchedule"): (
        "mutation($id: ID!) { resumeSchedule(id: $id) { paused } }",
        _schedule,
        MANAGER,
    ),
    ("Mutation", "launchCampaign"): (
        "mutation($input: LaunchCampaignInput!) { launchCampaign(input: $input) { sampled } }",
        _launch,
        MANAGER,
    ),
    ("Mutation", "closeCampaign"): (
        "mutation($id: ID!) { closeCampaign(id: $id) { status } }",
        _campaign,
        MANAGER,
    ),
    ("Mutation", "sendReminders"): (
        "mutation($id: ID!) { sendReminders(campaignId: $id) }",
        _open_campaign,
        MANAGER,
    ),
    ("Mutation", "recordPhoneResponse"): (
        "mutation($input: RecordPhoneResponseInput!) { recordPhoneResponse(input: $input) { id } }",
        _phone,
        MANAGER,
    ),
    ("Mutation", "updateFollowUp"): (
        'mutation($id: ID!) { updateFollowUp(id: $id, note: "Called") { status } }',
        _follow_up,
        MANAGER,
    ),
    ("Mutation", "recordDefection"): (
        "mutation($input: RecordDefectionInput!) { recordDefection(input: $input) { id } }",
        _defection,
        MANAGER,
    ),
    ("Query", "valuePyramid"): ("{ valuePyramid { band accounts } }", _none, VIEWER),
    ("Query", "tierSuggestions"): ("{ tierSuggestions { suggestedTier } }", _none, VIEWER),
    ("Query", "scoreModels"): ("{ scoreModels { code version } }", _none, VIEWER),
    ("Query", "priorityMatrix"): ("{ priorityMatrix { cells { accounts } } }", _none, VIEWER),
    ("Query", "priorityAccounts"): (
        '{ priorityAccounts(valueBand: "A", healthBand: "poor") { totalCount } }',
        _none,
        VIEWER,
    ),
    ("Query", "healthValidation"): ("{ healthValidation { accounts lowSample } }", _none, VIEWER),
    ("Query", "suggestedHealthWeights"): (
        "{ suggestedHealthWeights { lowSample } }",
        _none,
        VIEWER,
    ),
    ("Mutation", "applyTierSuggestions"): (
        "mutation { applyTierSuggestions(accountIds: []) { newTier } }",
        _none,
        MANAGER,
    ),
    ("Mutation", "setScoreModel"): (
        'mutation { setScoreModel(code: "pyramid", note: "same weights") { version } }',
        _none,
        ADMIN,
    ),
}

#: Fields inside types that need more than the viewer role. The contact person is a
#: contact detail as much as their e-mail and phone (README: viewers read everything
#: but contact details).
FIELD_RULES: dict[str, tuple[str, Variables, str]] = {
    "Account.contactName": (
        "query($id: ID!) { account(id: $id) { contactName } }",
        _account,
        MANAGER,
    ),
    "Account.contactEmail": (
        "query($id: ID!) { account(id: $id) { contactEmail } }",
        _account,
        MANAGER,
    ),
    "Account.contactPhone": (
        "query($id: ID!) { account(id: $id) { contactPhone } }",
        _account,
        MANAGER,
    ),
    "Contact.email": (
        "query($id: ID!) { account(id: $id) { contacts { email } } }",
        _account,
        MANAGER,
    ),
    "Contact.phone": (
        "query($id: ID!) { account(id: $id) { contacts { phone } } }",
        _account,
        MANAGER,
    ),
}


def operations() -> set[tuple[str, str]]:
    sdl = graphql.build_schema(api_schema.as_str())
    return {
        (root.name, name)
        for root in (sdl.query_type, sdl.mutation_type, sdl.subscription_type)
        if root is not None
        for name in root.fields
    }


def test_every_operation_has_a_rule():
    missing = operations() - set(RULES)
    assert not missing, f"add {sorted(missing)} to RULES with who may use it"


def present(rules: dict[tuple[str, str], Any]) -> list[tuple[str, str]]:
    """The rules for operations the schema has (a rule may come before its field)."""
    return sorted(set(rules) & operations())


@pytest.fixture
def world(app) -> tuple[Data, dict[str, str]]:
    with app.app_context():
        data = build()
        phone_accounts = [make_account("KP-manager"), make_account("KP-admin")]
        phone, _ = make_campaign("Phone interviews", accounts=phone_accounts)
        for who, account in zip((MANAGER, ADMIN), phone_accounts, strict=True):
            _PHONE_INVITATIONS[who] = db.session.scalars(
                select(Invitation.id).where(
                    Invitation.campaign_id == phone.id, Invitation.account_id == account.id
                )
            ).one()
        case = FollowUp(
            account_id=data.accounts["KA1"],
            response_id=data.responses["R1"],
            owner="王伟",
            due_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
        db.session.add(case)
        db.session.flush()
        _FOLLOW_UPS["case"] = case.id
        plan = ScheduleSpec(name="Plan", every="month", starts_on=date(2026, 1, 1), size=1)
        _SCHEDULES["plan"] = create_schedule(plan, actor=None, today=date(2026, 11, 23)).id
        hook = create_endpoint(
            "https://crm.example.com/h",
            ["response.submitted"],
            secret_key=TEST_SECRET,
            allow_http_loopback=False,
        )
        emit("response.submitted", {}, account_id=data.accounts["KA1"])
        db.session.execute(update(WebhookDelivery).values(status="failed"))
        _WEBHOOKS["endpoint"] = hook.endpoint.id
        _WEBHOOKS["delivery"] = db.session.scalars(select(WebhookDelivery.id)).one()
        tokens = make_tokens()
        tokens[REVOKED] = add_staff("gone", "admin").token  # an admin's, revoked
        revoke_staff("gone")
        db.session.commit()
        return data, tokens


def state(app) -> tuple[int, ...]:
    with app.app_context():
        counts = [
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Campaign, Invitation, Defection, AuditEntry, Response)
        ]
        closed = db.session.scalar(select(func.count()).where(Campaign.status == "closed"))
        return (*counts, closed)


def at_path(data: Any, path: list[str | int]) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


def call(client, document: str, variables: dict[str, Any], token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = client.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    return resp.status_code, resp.get_json()


def check(app, client, world, rule: tuple[str, Variables, str]) -> None:
    data, tokens = world
    document, variables, least = rule
    for who in PRINCIPALS:
        before = state(app)
        status, body = call(client, document, variables(data, who), tokens.get(who))
        if who in (NOBODY, REVOKED):
            assert status == 401, (who, body)
            assert codes(body) == ["UNAUTHENTICATED"], (who, body)
            assert state(app) == before
        elif who in ALLOWED[least]:
            assert status == 200, (who, body)
            assert "errors" not in body, (who, body)
            assert body["data"] is not None
        else:
            assert status == 200, (who, body)
            assert codes(body) == ["FORBIDDEN"], (who, body)
            assert at_path(body["data"], body["errors"][0]["path"]) is None, (who, body)
            assert state(app) == before, who  # a refused mutation changes nothing


def test_every_query_and_protected_field_is_allowed_exactly_for_its_roles(app, client, world):
    # Reads change nothing, so one data set serves them all.
    reads = [RULES[op] for op in present(RULES) if op[0] == "Query"]
    for rule in [*reads, *FIELD_RULES.values()]:
        check(app, client, world, rule)


@pytest.mark.parametrize(
    "operation",
    [op for op in present(RULES) if op[0] != "Query"],
    ids=lambda op: ".".join(op),
)
def test_every_mutation_is_allowed_exactly_for_its_roles(app, client, world, operation):
    check(app, client, world, RULES[operation])
