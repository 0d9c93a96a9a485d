"""Finding accounts: filters, search (case, Chinese, LIKE wildcards), sorts by revenue
and by the latest overall score, pages; the account page's history and open cases;
and `accounts(search:)` in the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_sqlalchemy.record_queries import get_recorded_queries

from survey.analysis import SORT_SCORE, account_aspect_history, account_list
from survey.errors import InvalidInputError, NotFoundError
from survey.follow_ups import unresolved_follow_ups_of_account
from survey.registry import MAX_SEARCH_LENGTH, AccountFilter, get_account_details

from .account_data import AccountData, build_accounts
from .graphql_helpers import codes, gql, make_tokens


@pytest.fixture
def data(app) -> AccountData:
    with app.app_context():
        return build_accounts()


def listed(**kwargs) -> list[str]:
    sort = kwargs.pop("sort", "revenue")
    return [r.external_id for r in account_list(AccountFilter(**kwargs), sort=sort).rows]


def test_filters_each_keep_exactly_their_accounts(app, data):
    with app.app_context():
        assert listed() == ["KA01", "KA03", "KA02", "KA04", "X-05"]
        assert listed(tier="B") == ["KA03", "KA02"]
        assert listed(region="华东") == ["KA01", "KA04", "X-05"]
        assert listed(account_manager="王伟") == ["KA01", "KA03", "X-05"]
        assert listed(relationship_stage="vendor") == ["KA02", "KA04"]
        assert listed(defected=True) == ["KA04"]
        assert listed(defected=False) == ["KA01", "KA03", "KA02", "X-05"]
        assert listed(region="华东", account_manager="王伟", tier="C") == ["X-05"]
        assert listed(tier="A", defected=True) == []


def test_search_by_name_or_id_ignores_case_and_matches_wildcards_literally(app, data):
    with app.app_context():
        assert listed(search="贸易") == ["KA01"]
        assert listed(search="  华东  ") == ["KA01"]
        assert listed(search="co.") == ["KA02"]
        assert listed(search="ka0") == ["KA01", "KA03", "KA02", "KA04"]
        assert listed(search="x-05") == ["X-05"]
        # `_` and `%` are characters here, not LIKE wildcards ("South" + any character
        # would find Southern Trade; "100" + anything its "1000").
        assert listed(search="south_") == ["KA03"]
        assert listed(search="100%") == ["KA03"]
        assert listed(search="south") == ["KA03", "X-05"]
        assert listed(search="%") == ["KA03"]
        assert listed(search="\\") == []
        assert listed(search="") == listed()
        assert listed(search="south", tier="C") == ["X-05"]


def test_search_too_long_is_refused(app, data):
    with app.app_context():
        assert listed(search="贸" * MAX_SEARCH_LENGTH) == []
        with pytest.raises(InvalidInputError) as raised:
            listed(search="贸" * (MAX_SEARCH_LENGTH + 1))
        assert raised.value.field == "search"


def test_sorted_by_latest_overall_score_worst_first_never_heard_last(app, data):
    with app.app_context():
        page = account_list(sort=SORT_SCORE)
        assert [(r.external_id, r.latest_overall) for r in page.rows] == [
            ("KA04", 1),
            ("KA01", 2),
            ("KA02", 5),
            ("KA03", None),  # never asked; then by revenue
            ("X-05", None),  # answered, but not the overall question
        ]
        ka01 = page.rows[1]
        assert ka01.latest_at == data.now - timedelta(days=5)
        assert (ka01.name, ka01.tier, ka01.region, ka01.account_manager) == (
            "华东贸易有限公司",
            "A",
            "华东",
            "王伟",
        )
        assert (ka01.relationship_stage, ka01.annual_revenue, ka01.active) == (
            "partner",
            9_000_000,
            True,
        )
        lost = page.rows[0]
        assert (lost.active, lost.defected_on) == (False, (data.now - timedelta(days=30)).date())
        with pytest.raises(InvalidInputError):
            account_list(sort="name")


def test_pages_of_two(app, data):
    with app.app_context():
        second = account_list(page=2, page_size=2)
        assert [r.external_id for r in second.rows] == ["KA02", "KA04"]
        assert (second.total, second.pages, second.has_previous, second.has_next) == (
            5,
            3,
            True,
            True,
        )
        assert (second.first_index, second.last_index) == (3, 4)
        beyond = account_list(page=9, page_size=2)
        assert (beyond.page, [r.external_id for r in beyond.rows]) == (3, ["X-05"])
        assert account_list(page=0, page_size=2).page == 1
        empty = account_list(AccountFilter(search="nobody"))
        assert (empty.total, empty.pages, empty.rows, empty.first_index) == (0, 1, (), 0)


def test_a_page_is_two_statements_whatever_its_size(app, data):
    with app.app_context():
        before = len(get_recorded_queries())
        account_list(AccountFilter(search="a"), sort=SORT_SCORE)
        assert len(get_recorded_queries()) - before == 2


def test_aspect_history_per_campaign_oldest_first(app, data):
    with app.app_context():
        history = account_aspect_history(data.ids["KA01"], locale="en")
        assert [
            (c.campaign_name, [(a.aspect, a.mean, a.respondents) for a in c.aspects])
            for c in history
        ] == [
            ("2026 Q3", [("delivery", 2.0, 1), ("overall", 4.0, 1)]),
            ("2026 Q4", [("delivery", 1.0, 1), ("overall", 2.0, 1)]),
        ]
        assert history[0].aspects[0].label == "Delivery and logistics"
        assert history[0].score("overall").mean == 4.0
        assert history[0].score("price") is None
        zh = account_aspect_history(data.ids["KA01"], locale="zh")
        assert zh[0].aspects[0].label == "交货与物流"
        assert account_aspect_history(data.ids["KA03"]) == []


def test_account_details_and_unresolved_cases(app, data):
    with app.app_context():
        before = len(get_recorded_queries())
        account = get_account_details("KA01")
        contacts = [(c.name, c.is_primary) for c in account.contacts]
        team = [(m.name, m.role) for m in account.team]
        assert account.defection is None
        assert len(get_recorded_queries()) - before == 3  # account, contacts, team
        assert contacts == [("李娜", True), ("Tom Chen", False)]
        assert team == [("赵敏", "executive_sponsor"), ("Sam Lee", "service_lead")]
        lost = get_account_details(" KA04 ")
        assert lost.defection.primary_reason == "price"
        assert [r.reason for r in lost.defection.reasons] == ["price", "service"]
        with pytest.raises(NotFoundError):
            get_account_details("KA99")
        cases = unresolved_follow_ups_of_account(data.ids["KA01"])
        assert [c.id for c in cases] == [data.follow_ups["overdue"]]
        assert unresolved_follow_ups_of_account(data.ids["KA02"]) == []


# --- the API --------------------------------------------------------------------------

SEARCH = """query($search: String, $tier: String, $after: String) {
  accounts(search: $search, tier: $tier, first: 2, after: $after) {
    totalCount edges { node { externalId } } pageInfo { hasNextPage endCursor } } }"""


def test_graphql_accounts_search_with_filters_and_paging(app, client, data):
    with app.app_context():
        token = make_tokens()["viewer"]

    def found(**variables):
        body = gql(client, SEARCH, variables, token=token)["data"]["accounts"]
        return body["totalCount"], [e["node"]["externalId"] for e in body["edges"]]

    assert found(search="SOUTH") == (2, ["KA03", "X-05"])
    assert found(search="south_") == (1, ["KA03"])
    assert found(search="贸易") == (1, ["KA01"])
    assert found(search="ka0", tier="B") == (2, ["KA02", "KA03"])
    first = gql(client, SEARCH, {"search": "ka0"}, token=token)["data"]["accounts"]
    assert [e["node"]["externalId"] for e in first["edges"]] == ["KA01", "KA02"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    assert found(search="ka0", after=after) == (4, ["KA03", "KA04"])
    assert found() == (5, ["KA01", "KA02"])


def test_graphql_over_long_search_is_bad_input_in_both_languages(app, client, data):
    with app.app_context():
        token = make_tokens()["viewer"]
    long = "x" * (MAX_SEARCH_LENGTH + 1)
    en = gql(client, SEARCH, {"search": long}, token=token, lang="en")
    assert codes(en) == ["BAD_USER_INPUT"]
    assert en["errors"][0]["message"] == "`search` may be at most 100 characters long."
    zh = gql(client, SEARCH, {"search": long}, token=token, lang="zh")
    assert zh["errors"][0]["message"] == "`search` 最多 100 个字符。"
    ok = gql(client, SEARCH, {"search": "x" * MAX_SEARCH_LENGTH}, token=token)
    assert ok["data"]["accounts"]["totalCount"] == 0
