"""A small fixed set of comments and reason texts for the comment-theme tests
(domain, API and console): seven responses built from the demo's texts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from survey.db import db
from survey.demo.dataset import _COMMENTS, _REASON_TEXT

from .conftest import TEST_NOW
from .factories import make_account, make_campaign, make_response

DELAY = _REASON_TEXT["delivery"][0]  # 近三个月多次延迟交货，影响了我们的销售。
FIX_ZH = _COMMENTS[2][0]  # 交货问题请尽快解决。
GOOD_ZH = _COMMENTS[1][0]  # 总体不错，继续保持。
PRICE_ZH = _REASON_TEXT["price"][0]
LATE_EN = _REASON_TEXT["delivery"][1]
FIX_EN = _COMMENTS[2][1]  # Please fix the delivery problems soon.
AGAIN_EN = "Delivery problems again, please fix."


def make_theme_texts(app: Flask) -> dict[str, Any]:
    """Seven responses (r1..r7), each at its own time before TEST_NOW.

    | resp | tier | when  | scores (overall, delivery, price) | reason texts    | comment  |
    | r1   | A    | -4 d  | 2, 1, -                           | delivery: DELAY | FIX_ZH   |
    | r2   | A    | -3 d  | 4, 2, -                           | delivery: DELAY | FIX_ZH   |
    | r3   | C    | -2 d  | 5, 5, 2                           | price: PRICE_ZH | GOOD_ZH  |
    | r4   | A    | -1 d  | 3, 2, -                           | delivery: DELAY | -        |
    | r5   | C    | -1 d  | 3, 1, -                           | delivery: LATE  | FIX_EN   |
    | r6   | C    | -12 h | 1, 4, -                           | -               | FIX_EN   |
    | r7   | C    | -6 h  | 2, 2, -                           | -               | AGAIN_EN |
    """
    rows = [
        ("A", 4 * 24, {"overall": 2, "delivery": 1}, {"delivery": DELAY}, FIX_ZH),
        ("A", 3 * 24, {"overall": 4, "delivery": 2}, {"delivery": DELAY}, FIX_ZH),
        ("C", 2 * 24, {"overall": 5, "delivery": 5, "price": 2}, {"price": PRICE_ZH}, GOOD_ZH),
        ("A", 24, {"overall": 3, "delivery": 2}, {"delivery": DELAY}, None),
        ("C", 24, {"overall": 3, "delivery": 1}, {"delivery": LATE_EN}, FIX_EN),
        ("C", 12, {"overall": 1, "delivery": 4}, {}, FIX_EN),
        ("C", 6, {"overall": 2, "delivery": 2}, {}, AGAIN_EN),
    ]
    with app.app_context():
        accounts = [
            make_account(f"KA{i}", tier=tier, locale="en" if i >= 5 else "zh")
            for i, (tier, *_) in enumerate(rows, start=1)
        ]
        spare = make_account("KA8")
        campaign, _ = make_campaign(accounts=[*accounts, spare])
        ids = {}
        for i, (account, (_tier, hours, scores, reason_texts, comment)) in enumerate(
            zip(accounts, rows, strict=True), start=1
        ):
            response = make_response(
                campaign,
                account,
                scores,
                reason_texts=reason_texts,
                comment=comment,
                submitted_at=TEST_NOW - timedelta(hours=hours),
            )
            ids[f"r{i}"] = response.id
        db.session.commit()
        return {"campaign": campaign.id, "spare": spare.id, **ids}
