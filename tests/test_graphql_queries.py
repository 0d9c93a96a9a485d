"""GraphQL queries on the fixed data set (tests/graphql_data.py)."""

from __future__ import annotations

import pytest

from .graphql_data import Data, build
from .graphql_helpers import codes, gql, make_tokens


@pytest.fixture
def setup(app) -> tuple[Data, dict[str, str]]:
    with app.app_context():
        return build(), make_tokens()


SUMMARY = """
query($groupBy: Dimension!, $filter: ResponseFilter) {
  satisfactionSummary(groupBy: $groupBy, filter: $filter) {
    key label answers mean satisfiedShare dissatisfiedShare
    distribution { veryDissatisfied somewhatDissatisfied noOpinion satisfied verySatisfied }
  }
}
"""


def test_summary_by_aspect(client, setup):
    _, tokens = setup
    body = gql(client, SUMMARY, {"groupBy": "ASPECT"}, token=tokens["viewer"], lang="en")
    groups = {g["key"]: g for g in body["data"]["satisfactionSummary"]}
    assert list(groups)[:3] == ["product_quality", "delivery", "price"]
    assert groups["delivery"] == {
        "key": "delivery",
        "label": "Delivery and logistics",
        "answers": 6,
        "mean": 3.0,
        "satisfiedShare": 0.5,
        "dissatisfiedShare": 0.5,
        "distribution": {
            "veryDissatisfied": 1,
            "somewhatDissatisfied": 2,
            "noOpinion": 0,
            "satisfied": 2,
            "verySatisfied": 1,
        },
    }
    assert groups["communication"]["mean"] is None
    assert groups["communication"]["satisfiedShare"] is None


def test_summary_labels_in_chinese_by_default(client, setup):
    _, tokens = setup
    body = gql(
        client,
        SUMMARY,
        {"groupBy": "TIER", "filter": {"aspect": "overall"}},
        token=tokens["viewer"],
    )
    rows = [
        (g["key"], g["label"], g["answers"], g["mean"]) for g in body["data"]["satisfactionSummary"]
    ]
    assert rows == [("A", "A 级", 4, 3.5), ("B", "B 级", 2, 3.0)]


def test_summary_bad_filter_is_bad_user_input(client, setup):
    _, tokens = setup
    body = gql(
        client,
        SUMMARY,
        {"groupBy": "TIER", "filter": {"aspect": "weather"}},
        token=tokens["viewer"],
    )
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "aspect"}
    assert "weather" in error["message"]


DRILL = """
query($by: [Dimension!]!) {
  dissatisfactionDrilldown(by: $by) {
    dimension key label answers dissatisfied dissatisfiedShare
    topReasons { reason count share }
    comments(first: 2)
    children { dimension key label answers dissatisfied dissatisfiedShare
               topReasons { reason count } comments children { key } }
  }
}
"""


def test_drilldown_aspect_then_tier(client, setup):
    _, tokens = setup
    body = gql(client, DRILL, {"by": ["ASPECT", "TIER"]}, token=tokens["viewer"], lang="en")
    nodes = body["data"]["dissatisfactionDrilldown"]
    assert [(n["key"], n["answers"], n["dissatisfied"]) for n in nodes] == [
        ("delivery", 6, 3),
        ("overall", 6, 2),
        ("price", 6, 2),
        ("service", 6, 1),
    ]
    delivery = nodes[0]
    assert delivery["dimension"] == "ASPECT"
    assert delivery["dissatisfiedShare"] == 0.5
    assert delivery["topReasons"] == [
        {"reason": "DELIVERY", "count": 3, "share": 1.0},
        {"reason": "PROCESS", "count": 1, "share": pytest.approx(1 / 3)},
    ]
    assert delivery["comments"] == ["审批太多", "客户经理很少来"]
    assert delivery["children"] == [
        {
            "dimension": "TIER",
            "key": "A",
            "label": "Tier A",
            "answers": 4,
            "dissatisfied": 3,
            "dissatisfiedShare": 0.75,
            "topReasons": [{"reason": "DELIVERY", "count": 3}, {"reason": "PROCESS", "count": 1}],
            "comments": ["审批太多", "客户经理很少来", "交货总是晚"],
            "children": [],
        }
    ]
    overall = nodes[1]
    assert [(c["key"], c["answers"], c["dissatisfied"]) for c in overall["children"]] == [
        ("A", 4, 1),
        ("B", 2, 1),
    ]


def test_drilldown_comments_are_capped(client, setup):
    _, tokens = setup
    query = "{ dissatisfactionDrilldown(by: [ASPECT]) { comments(first: 21) } }"
    body = gql(client, query, token=tokens["viewer"])
    assert codes(body) == ["BAD_USER_INPUT"]


REASONS = """
query($groupBy: Dimension, $filter: DefectionFilter) {
  defectionReasons(groupBy: $groupBy, filter: $filter) {
    key label defections lostRevenue reasons { reason count share }
  }
}
"""


def test_defection_reasons_by_month(client, setup):
    _, tokens = setup
    body = gql(client, REASONS, {"groupBy": "MONTH"}, token=tokens["viewer"])
    assert body["data"]["defectionReasons"] == [
        {
            "key": "2026-08",
            "label": "2026-08",
            "defections": 2,
            "lostRevenue": 4_000_000,
            "reasons": [
                {"reason": "PRICE", "count": 1, "share": 0.5},
                {"reason": "COMMUNICATION", "count": 1, "share": 0.5},
                {"reason": "PROCESS", "count": 1, "share": 0.5},
                {"reason": "COMPETITOR_OFFER", "count": 1, "share": 0.5},
            ],
        },
        {
            "key": "2026-10",
            "label": "2026-10",
            "defections": 1,
            "lostRevenue": 0,
            "reasons": [{"reason": "PRICE", "count": 1, "share": 1.0}],
        },
    ]


def test_defection_reasons_all_and_by_tier_and_filtered(client, setup):
    _, tokens = setup
    everything = gql(client, REASONS, token=tokens["viewer"], lang="en")["data"]
    assert [
        (g["key"], g["label"], g["defections"], g["lostRevenue"])
        for g in everything["defectionReasons"]
    ] == [("all", "All", 3, 4_000_000)]
    tiers = gql(client, REASONS, {"groupBy": "TIER"}, token=tokens["viewer"])["data"]
    # Tiers in their order (A, B, C), not the most defections first.
    assert [(g["key"], g["defections"]) for g in tiers["defectionReasons"]] == [("A", 1), ("B", 2)]
    north = gql(
        client,
        REASONS,
        {"groupBy": "ACCOUNT_MANAGER", "filter": {"region": "华北", "until": "2026-09-30"}},
        token=tokens["viewer"],
    )["data"]
    assert [(g["key"], g["defections"]) for g in north["defectionReasons"]] == [("李强", 1)]
    bad = gql(client, REASONS, {"groupBy": "ASPECT"}, token=tokens["viewer"])
    assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "groupBy"}


def test_at_risk_accounts(client, setup):
    data, tokens = setup
    query = """{ atRiskAccounts { account { id externalId } lastResponseAt dissatisfiedAspects
                 annualRevenue } }"""
    body = gql(client, query, token=tokens["viewer"])
    assert body["data"]["atRiskAccounts"] == [
        {
            "account": {"id": str(data.accounts["KA2"]), "externalId": "KA2"},
            "lastResponseAt": "2026-07-08T09:30:00+00:00",
            "dissatisfiedAspects": ["delivery"],
            "annualRevenue": 8_000_000,
        },
        {
            "account": {"id": str(data.accounts["KA3"]), "externalId": "KA3"},
            "lastResponseAt": "2026-01-20T09:30:00+00:00",
            "dissatisfiedAspects": ["price"],
            "annualRevenue": 2_000_000,
        },
    ]
    one = gql(
        client, "{ atRiskAccounts(first: 1) { account { externalId } } }", token=tokens["viewer"]
    )
    assert one["data"]["atRiskAccounts"] == [{"account": {"externalId": "KA2"}}]


ACCOUNT = """
query($id: ID!) {
  account(id: $id) {
    id externalId name tier tierLabel valueType valueTypeLabel relationshipStage
    relationshipStageLabel region annualRevenue accountManager locale active
    responses { id campaign { name } answers { aspect score } }
    defection { defectedOn primaryReason otherReasons competitor lostAnnualRevenue
                account { externalId } }
    satisfactionTrend { campaignName mean answers }
  }
}
"""


def test_account_profile_responses_defection_and_trend(client, setup):
    data, tokens = setup
    ka2 = gql(client, ACCOUNT, {"id": str(data.accounts["KA2"])}, token=tokens["viewer"], lang="en")
    account = ka2["data"]["account"]
    assert {k: account[k] for k in ("externalId", "tier", "tierLabel", "valueTypeLabel")} == {
        "externalId": "KA2",
        "tier": "A",
        "tierLabel": "Tier A",
        "valueTypeLabel": "Strategic value",
    }
    assert account["relationshipStageLabel"] == "Strategic alliance"
    assert account["annualRevenue"] == 8_000_000
    assert [r["id"] for r in account["responses"]] == [
        str(data.responses["R5"]),
        str(data.responses["R2"]),
    ]
    assert account["responses"][0]["campaign"]["name"] == "2026 Q3"
    assert [a["aspect"] for a in account["responses"][0]["answers"]] == [
        "delivery",
        "price",
        "service",
        "overall",
    ]
    assert account["defection"] is None
    assert account["satisfactionTrend"] == [
        {"campaignName": "2026 Q1", "mean": 2.0, "answers": 1},
        {"campaignName": "2026 Q3", "mean": 3.0, "answers": 1},
    ]
    ka4 = gql(client, ACCOUNT, {"id": str(data.accounts["KA4"])}, token=tokens["viewer"])
    assert ka4["data"]["account"]["defection"] == {
        "defectedOn": "2026-08-15",
        "primaryReason": "PRICE",
        "otherReasons": ["COMPETITOR_OFFER"],
        "competitor": "竞争者甲",
        "lostAnnualRevenue": 1_000_000,
        "account": {"externalId": "KA4"},
    }
    assert ka4["data"]["account"]["active"] is False


def test_unknown_account_is_null_and_bad_id_is_bad_input(client, setup):
    _, tokens = setup
    assert gql(client, ACCOUNT, {"id": "99999"}, token=tokens["viewer"])["data"] == {
        "account": None
    }
    body = gql(client, ACCOUNT, {"id": "KA1"}, token=tokens["viewer"])
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


def test_accounts_filters_and_total_count(client, setup):
    _, tokens = setup
    query = """query($tier: String, $region: String, $defected: Boolean, $valueType: String,
                     $relationshipStage: String, $accountManager: String) {
      accounts(tier: $tier, region: $region, defected: $defected, valueType: $valueType,
               relationshipStage: $relationshipStage, accountManager: $accountManager) {
        totalCount edges { node { externalId } } pageInfo { hasNextPage } } }"""

    def ids(**variables):
        body = gql(client, query, variables, token=tokens["viewer"])["data"]["accounts"]
        return body["totalCount"], [e["node"]["externalId"] for e in body["edges"]]

    assert ids() == (6, ["KA1", "KA2", "KA3", "KA4", "KA5", "KA6"])
    assert ids(tier="B") == (3, ["KA3", "KA4", "KA6"])
    assert ids(region="华东", tier="A") == (2, ["KA1", "KA5"])
    assert ids(defected=True) == (3, ["KA4", "KA5", "KA6"])
    assert ids(defected=False) == (3, ["KA1", "KA2", "KA3"])
    assert ids(valueType="intrinsic", accountManager="王伟") == (2, ["KA3", "KA6"])
    assert ids(relationshipStage="partner") == (2, ["KA1", "KA5"])
    body = gql(client, query, {"valueType": "cheap"}, token=tokens["viewer"])
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "valueType"}


CAMPAIGNS = """
{ campaigns { totalCount edges { node {
    name status sampled responded responseRate frameSize
    invitations(first: 3) { totalCount pageInfo { hasNextPage }
                            edges { node { status account { externalId } } } }
    summary { key answers mean }
    overall: summary(groupBy: TIER) { key answers }
} } } }
"""


def test_campaigns_with_progress_invitations_and_summary(client, setup):
    _, tokens = setup
    body = gql(client, CAMPAIGNS, token=tokens["viewer"])["data"]["campaigns"]
    assert body["totalCount"] == 2
    c1, c2 = (e["node"] for e in body["edges"])
    assert (c1["name"], c1["status"], c1["sampled"], c1["responded"], c1["responseRate"]) == (
        "2026 Q1",
        "CLOSED",
        4,
        3,
        0.75,
    )
    assert c2["status"] == "OPEN"
    assert c1["invitations"]["totalCount"] == 4
    assert c1["invitations"]["pageInfo"]["hasNextPage"] is True
    assert [
        (e["node"]["account"]["externalId"], e["node"]["status"])
        for e in c1["invitations"]["edges"]
    ] == [
        ("KA1", "responded"),
        ("KA2", "responded"),
        ("KA3", "responded"),
    ]
    assert [e["node"]["account"]["externalId"] for e in c2["invitations"]["edges"]] == [
        "KA1",
        "KA2",
        "KA4",
    ]
    overall = {g["key"]: g for g in c2["summary"]}["overall"]
    assert (overall["answers"], overall["mean"]) == (3, 3.0)
    assert c1["overall"] == [{"key": "A", "answers": 8}, {"key": "B", "answers": 4}]


def test_campaign_by_id_and_invitation_paging(client, setup):
    data, tokens = setup
    query = """query($id: ID!, $after: String) { campaign(id: $id) {
        name invitations(first: 2, after: $after) {
          edges { cursor node { account { externalId } } }
          pageInfo { hasNextPage endCursor } } } }"""
    cid = str(data.campaigns["C2"])
    page1 = gql(client, query, {"id": cid}, token=tokens["viewer"])["data"]["campaign"]
    invitations = page1["invitations"]
    assert [e["node"]["account"]["externalId"] for e in invitations["edges"]] == ["KA1", "KA2"]
    page2 = gql(
        client,
        query,
        {"id": cid, "after": invitations["pageInfo"]["endCursor"]},
        token=tokens["viewer"],
    )["data"]["campaign"]["invitations"]
    assert [e["node"]["account"]["externalId"] for e in page2["edges"]] == ["KA4", "KA6"]
    assert page2["pageInfo"]["hasNextPage"] is False
    assert gql(client, query, {"id": "424242"}, token=tokens["viewer"])["data"] == {
        "campaign": None
    }


RESPONSES = """
query($first: Int, $after: String, $filter: ResponseFilter) {
  responses(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id submittedAt channel comment locale
      account { externalId } campaign { name }
      answers { aspect aspectLabel score satisfaction reasons reasonText }
    } }
  }
}
"""


def test_responses_with_answers(client, setup):
    data, tokens = setup
    body = gql(client, RESPONSES, {"first": 2}, token=tokens["viewer"], lang="en")["data"]
    page = body["responses"]
    assert page["totalCount"] == 6
    assert page["pageInfo"]["hasNextPage"] is True
    r1, r2 = (e["node"] for e in page["edges"])
    assert r1["id"] == str(data.responses["R1"])
    assert r2["comment"] == "客户经理很少来"
    assert r2["channel"] == "phone"
    assert r2["account"] == {"externalId": "KA2"}
    assert r2["campaign"] == {"name": "2026 Q1"}
    assert r2["answers"] == [
        {
            "aspect": "delivery",
            "aspectLabel": "Delivery and logistics",
            "score": 1,
            "satisfaction": "VERY_DISSATISFIED",
            "reasons": ["DELIVERY"],
            "reasonText": None,
        },
        {
            "aspect": "price",
            "aspectLabel": "Price and commercial terms",
            "score": 4,
            "satisfaction": "SATISFIED",
            "reasons": [],
            "reasonText": None,
        },
        {
            "aspect": "service",
            "aspectLabel": "Service and responsiveness",
            "score": 2,
            "satisfaction": "SOMEWHAT_DISSATISFIED",
            "reasons": ["SERVICE"],
            "reasonText": "响应太慢",
        },
        {
            "aspect": "overall",
            "aspectLabel": "Overall satisfaction",
            "score": 2,
            "satisfaction": "SOMEWHAT_DISSATISFIED",
            "reasons": ["COMMUNICATION", "SERVICE"],
            "reasonText": None,
        },
    ]


def test_responses_filter(client, setup):
    data, tokens = setup

    def ids(f):
        body = gql(client, RESPONSES, {"filter": f}, token=tokens["viewer"])
        assert "errors" not in body, body
        page = body["data"]["responses"]
        found = [e["node"]["id"] for e in page["edges"]]
        assert page["totalCount"] == len(found)
        return found

    r = {k: str(v) for k, v in data.responses.items()}
    assert ids({"campaignId": str(data.campaigns["C2"])}) == [r["R4"], r["R5"], r["R6"]]
    assert ids({"aspect": "price", "scoreAtMost": 1}) == [r["R3"], r["R6"]]
    assert ids({"scoreAtMost": 1}) == [r["R2"], r["R3"], r["R6"]]
    assert ids({"tier": "B", "since": "2026-07-09", "until": "2026-07-09"}) == [r["R6"]]
    assert ids({"accountManager": "王伟", "scoreAtLeast": 5}) == [r["R1"], r["R3"], r["R4"]]


def test_me_and_labels_follow_accept_language(client, setup):
    _, tokens = setup
    body = gql(
        client, "{ me { name role locale } }", token=tokens["manager"], lang="en-GB,en;q=0.9"
    )
    assert body["data"]["me"] == {"name": "manager-user", "role": "manager", "locale": "en"}
    body = gql(client, "{ me { locale } }", token=tokens["viewer"], lang="fr")
    assert body["data"]["me"]["locale"] == "zh"


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("zh-CN,zh;q=0.9", "zh"),
        ("en-US", "en"),
        ("zh-TW,en;q=0.5", "zh"),
        ("en-GB,zh;q=0.9", "en"),
        ("fr-FR,en;q=0.5", "en"),
        ("fr", "zh"),
        ("", "zh"),
    ],
)
def test_locale_from_accept_language(client, setup, header, locale):
    _, tokens = setup
    body = gql(client, "{ me { locale } }", token=tokens["viewer"], lang=header)
    assert body["data"]["me"]["locale"] == locale
