"""API tokens with a life cycle: issued with an expiry and a name, their last use kept (at
most once a minute, outside the trail), listed and revoked by an administrator through the API
and the CLI; a revoked or expired token is refused at once (401), and every issue and
revocation is in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from custody.extensions import db
from custody.models import ApiToken, AuditEntry
from custody.models.base import utcnow
from custody.services.core.accounts import user_for_token

ME = "/api/v1/users/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _row(token_id: int) -> ApiToken:
    db.session.expire_all()
    return db.session.get(ApiToken, token_id)


def test_an_admin_issues_lists_and_revokes_a_token_and_its_next_use_is_refused(client, make):
    admin = make.headers(make.user("admin", username="ada.admin"))
    make.user("technician", username="scanner.bench2")
    issued = client.post(
        "/api/v1/users/scanner.bench2/tokens",
        json={"label": "Bench 2 scanner", "days": 30},
        headers=admin,
    )
    assert issued.status_code == 201
    token = issued.get_json()["token"]
    assert client.get(ME, headers=_bearer(token)).get_json()["username"] == "scanner.bench2"

    listed = client.get("/api/v1/users/tokens?user=scanner.bench2", headers=admin).get_json()
    (item,) = listed["items"]
    assert (item["username"], item["label"], item["revoked_at"]) == (
        "scanner.bench2",
        "Bench 2 scanner",
        None,
    )
    assert item["last_used_at"] is not None
    row = _row(item["id"])
    assert timedelta(days=29, hours=23) < row.expires_at - row.created_at <= timedelta(days=30)

    no_reason = client.post(
        f"/api/v1/users/tokens/{item['id']}/revocation", json={"reason": " "}, headers=admin
    )
    assert no_reason.status_code == 422
    revoked = client.post(
        f"/api/v1/users/tokens/{item['id']}/revocation",
        json={"reason": "Scanner sent for repair"},
        headers=admin,
    )
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    refused = client.get(ME, headers=_bearer(token))
    assert refused.status_code == 401
    again = client.post(
        f"/api/v1/users/tokens/{item['id']}/revocation", json={"reason": "again"}, headers=admin
    )
    assert again.status_code == 409

    reasons = db.session.scalars(
        select(AuditEntry.reason)
        .where(AuditEntry.record_type == "api_tokens", AuditEntry.record_id == str(item["id"]))
        .order_by(AuditEntry.id)
    ).all()
    assert reasons == ["API token issued", "Scanner sent for repair"]


def test_a_token_is_refused_from_the_instant_it_expires(make):
    user = make.user("technician")
    token = make.token(user)
    row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    expires = row.expires_at
    assert user_for_token(token, now=expires - timedelta(microseconds=1)) is not None
    assert user_for_token(token, now=expires) is None


def test_the_default_lifetime_is_the_sites_setting(app, make):
    from tests.conftest import change_settings

    change_settings(app, CUSTODY_TOKEN_DAYS=7)
    user = make.user("technician")
    make.token(user)
    row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert timedelta(days=6, hours=23) < row.expires_at - row.created_at <= timedelta(days=7)


def test_last_use_is_written_at_most_once_a_minute_and_not_audited(make):
    user = make.user("technician")
    token = make.token(user)
    row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    entries = db.session.scalar(select(db.func.count()).select_from(AuditEntry))
    start = utcnow()
    user_for_token(token, now=start)
    assert _row(row.id).last_used_at == start
    user_for_token(token, now=start + timedelta(seconds=59))
    assert _row(row.id).last_used_at == start
    user_for_token(token, now=start + timedelta(seconds=60))
    assert _row(row.id).last_used_at == start + timedelta(seconds=60)
    assert db.session.scalar(select(db.func.count()).select_from(AuditEntry)) == entries


def test_a_token_of_a_retired_account_is_refused(client, make):
    user = make.user("technician")
    token = make.token(user)
    db.session.execute(update(type(user)).where(type(user).id == user.id).values(active=False))
    db.session.commit()
    assert client.get(ME, headers=_bearer(token)).status_code == 401


def test_only_an_admin_manages_tokens(client, make):
    nurse = make.headers(make.user("nurse"))
    assert client.get("/api/v1/users/tokens", headers=nurse).status_code == 403
    issued = client.post("/api/v1/users/x/tokens", json={}, headers=nurse)
    assert issued.status_code == 403


def test_the_cli_lists_and_revokes_tokens(runner, client, make):
    make.user("technician", username="scanner.bench3")
    issued = runner.invoke(
        args=["user", "token", "scanner.bench3", "--label", "Bench 3", "--days", "5"]
    )
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    listed = runner.invoke(args=["user", "tokens", "scanner.bench3"])
    assert listed.exit_code == 0, listed.output
    (line,) = listed.output.strip().splitlines()
    token_id, username, label, *_rest, state = line.split("\t")
    assert (username, label, state) == ("scanner.bench3", "Bench 3", "live")
    revoked = runner.invoke(args=["user", "revoke-token", token_id, "--reason", "Lost"])
    assert revoked.exit_code == 0 and revoked.output.strip() == f"revoked token {token_id}"
    assert client.get(ME, headers=_bearer(token)).status_code == 401
    unknown = runner.invoke(args=["user", "revoke-token", "99999", "--reason", "x"])
    assert unknown.exit_code == 2 and unknown.output.startswith("error: No API token 99999")
    assert "Traceback" not in unknown.output


def test_the_cli_ends_a_users_sessions(runner, make):
    make.user("nurse", username="nina.ward")
    ended = runner.invoke(args=["user", "end-sessions", "nina.ward", "--reason", "Tablet lost"])
    assert ended.exit_code == 0 and ended.output.strip() == "ended 0 session(s) of nina.ward"
    unknown = runner.invoke(args=["user", "end-sessions", "nobody", "--reason", "x"])
    assert unknown.exit_code == 2 and "No user named 'nobody'" in unknown.output


@pytest.mark.parametrize("token_id", [0, 2**31, 10**40])
def test_a_token_id_out_of_range_is_not_found(client, make, token_id):
    admin = make.headers(make.user("admin"))
    answer = client.post(
        f"/api/v1/users/tokens/{token_id}/revocation", json={"reason": "x"}, headers=admin
    )
    assert answer.status_code == 404
    assert answer.get_json()["error"]["message"] == f"No API token {token_id} is known here."
