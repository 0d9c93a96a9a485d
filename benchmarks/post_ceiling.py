"""Where the survey POST's time goes, against the bench's floor (a bare GET route).

`python -m benchmarks.post_ceiling [--database-url URL]` builds a small data set
(20,000 accounts and answers), then times in one process, in this order:

- the floor: a GET of the bare route (`make bench`'s B for the page and the POST);
- the POST as `make bench` times it (a valid submission to a new invitation);
- the same POST with the storing step replaced by a no-op: the link's read, the
  CSRF check, parsing and checking the form, the redirect: what every POST costs
  before one row is written;
- the same writes as one transaction on a bare DBAPI connection (the response, eight
  answers, two reasons, the invitation marked, the data version, COMMIT): what the
  database itself needs for them.

It prints CPU and wall milliseconds per request and the best ratio the POST could
reach were our storing code free: floor / (POST without storing + bare writes).

On PostgreSQL it also times the least a POST could be built to cost there, whatever
the code: the link read on a kept autocommit connection (as the survey page reads
it) and the whole response (the response, its answers and reasons, the invitation
marked, the data version) written by one autocommit statement, a data-modifying
WITH, in the real tables with their indexes and foreign keys. Its bound,
floor / (floor + that read + that statement), is what the POST would reach were
routing, parsing, the checks and the redirect as cheap as the bare route itself.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

from flask import Flask

from benchmarks.data import Generator
from benchmarks.harness import make_bench_app, scratch_database
from benchmarks.items import FLOOR_PATH, survey_csrf_token, survey_form_data

FORM = "application/x-www-form-urlencoded"


def _time(operation: Callable[[], None], n: int) -> tuple[float, float]:
    for _ in range(min(50, n)):
        operation()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        operation()
    return (time.process_time() - cpu) / n * 1e3, (time.perf_counter() - wall) / n * 1e3


@contextmanager
def _bare_writes(dbapi: object, dialect: str) -> Iterator[Callable[[], None]]:
    """The storing step's statements, hand-written, on one DBAPI connection."""
    p = "?" if dialect == "sqlite" else "%s"
    cursor = dbapi.cursor()  # type: ignore[attr-defined]
    cursor.execute("SELECT min(id), max(id) FROM aspects")
    low, _ = cursor.fetchone()
    # Tables of the same shape and indexes as responses, answers and answer_reasons, in
    # the scratch database itself (its log, its commits).
    serial = "INTEGER PRIMARY KEY" if dialect == "sqlite" else "SERIAL PRIMARY KEY"
    for statement in (
        f"CREATE TABLE bare_responses (id {serial}, invitation INT UNIQUE, body TEXT)",
        f"CREATE TABLE bare_answers (id {serial}, r INT, a INT, s INT, UNIQUE (r, a))",
        "CREATE INDEX bare_answers_a_s ON bare_answers (a, s)",
        "CREATE TABLE bare_reasons (answer INT, reason VARCHAR(40), PRIMARY KEY (answer, reason))",
        "CREATE INDEX bare_reasons_reason ON bare_reasons (reason)",
    ):
        cursor.execute(statement)
    dbapi.commit()  # type: ignore[attr-defined]
    n = 0

    def write() -> None:
        nonlocal n
        n += 1
        cursor.execute(
            f"INSERT INTO bare_responses (invitation, body) VALUES ({p}, {p}) RETURNING id",
            (n, "x" * 40),
        )
        (rid,) = cursor.fetchone()
        values = ", ".join(f"({p}, {p}, {p})" for _ in range(8))
        args = [v for k in range(8) for v in (rid, low + k, 4)]
        cursor.execute(f"INSERT INTO bare_answers (r, a, s) VALUES {values} RETURNING id", args)
        ids = cursor.fetchall()
        cursor.execute(
            f"INSERT INTO bare_reasons VALUES ({p}, {p}), ({p}, {p})",
            (ids[0][0], "delivery", ids[0][0], "service"),
        )
        cursor.execute(f"UPDATE bare_responses SET body = {p} WHERE id = {p}", ("y", rid))
        cursor.execute(f"UPDATE bare_responses SET body = {p} WHERE id = {p}", ("z", rid))
        dbapi.commit()  # type: ignore[attr-defined]

    try:
        yield write
    finally:
        cursor.close()


#: The whole response in one statement and one round trip (PostgreSQL): the response,
#: eight answers, two reasons on the first, the invitation marked, the data version.
_ONE_STATEMENT = """
WITH r AS (
  INSERT INTO responses (invitation_id, campaign_id, account_id, contact_id, submitted_at,
                         channel, locale)
  VALUES (%(invitation)s, %(campaign)s, %(account)s, %(contact)s, now(), 'web', 'zh')
  RETURNING id),
v (aspect_id, score) AS (SELECT * FROM unnest(%(aspects)s::int[], %(scores)s::smallint[])),
a AS (INSERT INTO answers (response_id, aspect_id, score)
      SELECT r.id, v.aspect_id, v.score FROM r, v RETURNING id, aspect_id),
reasons AS (INSERT INTO answer_reasons (answer_id, reason)
            SELECT a.id, x.reason FROM a, unnest(%(reasons)s::text[]) AS x (reason)
            WHERE a.aspect_id = %(reasoned)s),
i AS (UPDATE invitations SET status = 'responded', responded_at = now()
      WHERE id = %(invitation)s),
d AS (INSERT INTO data_version (id, token, changed_at) VALUES (1, md5(random()::text), now())
      ON CONFLICT (id) DO UPDATE SET token = excluded.token, changed_at = excluded.changed_at)
SELECT id FROM r
"""


def _one_statement_ceiling(app: Flask, tokens: list[str], n: int) -> tuple[float, float]:
    """PostgreSQL: wall ms of the link read on a kept connection and of the whole
    response as one autocommit statement, for `tokens` not yet answered."""
    from sqlalchemy import select

    from survey.answers.survey_link import open_survey
    from survey.db import db
    from survey.models import Aspect, Invitation
    from survey.tokens import hash_token

    with app.app_context():
        aspect_ids = db.session.scalars(select(Aspect.id).order_by(Aspect.id).limit(8)).all()
        by_hash = {
            row.token_hash: row
            for row in db.session.execute(
                select(
                    Invitation.token_hash,
                    Invitation.id,
                    Invitation.campaign_id,
                    Invitation.account_id,
                    Invitation.contact_id,
                ).where(Invitation.token_hash.in_([hash_token(t) for t in tokens]))
            )
        }
        db.session.rollback()
        links = iter(tokens)
        read = _time(lambda: open_survey(next(links)), len(tokens) - 50)
        pooled = db.engine.raw_connection()
    rows = iter(by_hash[hash_token(t)] for t in tokens)
    try:
        connection = pooled.dbapi_connection
        connection.autocommit = True  # type: ignore[attr-defined]
        cursor = connection.cursor()  # type: ignore[attr-defined]

        def store() -> None:
            row = next(rows)
            cursor.execute(
                _ONE_STATEMENT,
                {
                    "invitation": row.id,
                    "campaign": row.campaign_id,
                    "account": row.account_id,
                    "contact": row.contact_id,
                    "aspects": aspect_ids,
                    "scores": [4] * len(aspect_ids),
                    "reasons": ["delivery", "service"],
                    "reasoned": aspect_ids[0],
                },
            )
            cursor.fetchone()

        stored = _time(store, min(n, len(tokens) - 50))
    finally:
        pooled.close()
    return read[1], stored[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("-n", type=int, default=1500, help="requests per measure")
    parser.add_argument("--accounts", type=int, default=20_000, help="accounts and answers")
    args = parser.parse_args(argv)
    import survey.answers.survey_link as survey_link
    from survey.db import db

    with scratch_database(args.database_url) as (url, description):
        key = secrets.token_urlsafe(48)
        app = make_bench_app(url, key)
        client = app.test_client()
        generator = Generator(
            seed=7, secret_key=key, accounts=args.accounts, sample_size=args.accounts // 10
        )
        with app.app_context():
            generator.start()
            generator.grow_to(args.accounts)
            generator.open_campaign(3 * args.n + 180)
        # Each link's page fetched and its form encoded before the timing (as make bench).
        pending = iter(
            [
                (
                    token,
                    urlencode(survey_form_data(survey_csrf_token(client, token), n), doseq=True),
                )
                for n, token in enumerate(generator.data.open_tokens[: 2 * args.n + 120])
            ]
        )

        def post() -> None:
            token, body = next(pending)
            resp = client.post(f"/s/{token}", data=body, content_type=FORM)
            assert resp.status_code == 303, resp.status_code

        print(description)
        floor = _time(lambda: client.get(FLOOR_PATH), 3 * args.n)
        whole = _time(post, args.n)
        real = survey_link.store_response
        survey_link.store_response = lambda *a, **k: 1  # type: ignore[assignment]
        try:
            unstored = _time(post, args.n)
        finally:
            survey_link.store_response = real
        with app.app_context():
            pooled = db.engine.raw_connection()
            try:
                with _bare_writes(pooled.dbapi_connection, db.engine.dialect.name) as write:
                    bare = _time(write, args.n)
            finally:
                pooled.close()
        for name, (cpu, wall) in (
            ("floor (bare GET)", floor),
            ("POST", whole),
            ("POST without storing", unstored),
            ("the writes on a bare connection", bare),
        ):
            ratio = floor[1] / wall
            print(f"{name:34} cpu {cpu:6.3f} ms  wall {wall:6.3f} ms  floor/wall {ratio:.2f}")
        best = floor[1] / (unstored[1] + bare[1])
        print(f"best POST ratio were storing free of our code: {best:.2f} (target >= 0.20)")
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            spare = generator.data.open_tokens[2 * args.n + 120 :]
            read, stored = _one_statement_ceiling(app, spare, args.n)
            print(f"{'link read, kept connection':34} wall {read:6.3f} ms")
            print(f"{'the response in one statement':34} wall {stored:6.3f} ms")
            bound = floor[1] / (floor[1] + read + stored)
            print(
                "bound of any POST storing in one statement, were the request as cheap "
                f"as the bare route: {bound:.2f} (target >= 0.20)"
            )
        with app.app_context():  # its pool and kept reader connections, before the drop
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
