"""A revoked key stops working in every API process (limits: within 1 s): the revoking
process forgets it at once, and announces it on Redis; every API process listens
(services/key_revocations.py) and forgets it too. Two API processes share no memory, so the
announcement is checked here from a second Redis connection, as another process sends it;
bench/revocation_window.py measures the window across `serve --workers 2`."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from meterbill.services import accounts
from tests import services as svc


async def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not check():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.01)


async def test_an_announced_revocation_is_forgotten_by_a_listening_process(app, deployment):
    svc.require_redis()
    assert not deployment.embedded
    account, admin = await accounts.create_account("Revocations")
    _, other = await accounts.create_api_key(account.id, "other", ["READ"])
    kept = await accounts.authenticate(admin)
    gone = await accounts.authenticate(other)
    assert kept is not None and gone is not None
    digest = accounts.hash_secret(other)
    # Cached for an hour here: only the announcement can make this process forget it.
    accounts._auth_cache[digest] = (gone, float("inf"))
    accounts._auth_cache[accounts.hash_secret(admin)] = (kept, float("inf"))
    redis = Redis.from_url(deployment.redis_url or "")
    try:
        # Another process revoked it (the row is revoked, then announced).
        from meterbill.db.models import ApiKey
        from meterbill.services.now import utcnow

        await ApiKey.filter(id=gone.key_id).update(revoked_at=utcnow())
        receivers = await redis.publish(accounts.REVOKED_CHANNEL, gone.key_id)
        assert receivers >= 1  # this app's listener
        await _until(lambda: digest not in accounts._auth_cache, "the key is still cached")
        assert await accounts.authenticate(other) is None
        assert await accounts.authenticate(admin) == kept  # others stay cached
    finally:
        await redis.aclose()


async def test_revoking_forgets_the_key_in_this_process_at_once(app):
    account, admin = await accounts.create_account("Revocations")
    key, secret = await accounts.create_api_key(account.id, "soon gone", ["ADMIN"])
    principal = await accounts.authenticate(secret)
    assert principal is not None
    accounts._auth_cache[accounts.hash_secret(secret)] = (principal, float("inf"))
    await accounts.revoke_api_key(account.id, key.id)
    assert await accounts.authenticate(secret) is None
