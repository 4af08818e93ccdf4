"""An API token's last use is kept to the minute, so API calls need not write it each time."""

from datetime import timedelta

from respondr.domain import accounts
from respondr.models import ApiToken
from respondr.timeutil import utcnow


def test_last_use_is_recorded_to_the_minute(db, make_user):
    user = make_user()
    token = accounts.create_api_token(db, user, actor=None, now=utcnow())
    stored = db.query(ApiToken).one()
    first = utcnow()

    assert accounts.user_for_api_token(db, token, now=first) == user
    assert stored.last_used_at == first

    # Within the minute: the first use stands, and nothing is left to write.
    db.flush()
    assert accounts.user_for_api_token(db, token, now=first + timedelta(seconds=59)) == user
    assert stored.last_used_at == first
    assert not db.dirty

    later = first + timedelta(minutes=1)
    assert accounts.user_for_api_token(db, token, now=later) == user
    assert stored.last_used_at == later
