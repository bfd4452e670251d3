"""Who may see and write what in workshop mode: access codes and the sessions bound to them.

No UI lives here. A served page asks :func:`verify` for an :class:`Identity` once, then does
everything through a :class:`ParticipantSession` or a :class:`CoachSession` built from that
identity and kept in a Python variable: never from widget state, which any browser can set.

Codes
-----
A code looks like ``K7QD-3M9XW2TB``: four characters of *selector*, stored in clear to find
the row, and eight of *secret* (40 bits, Crockford base32), of which the store keeps only a
salted ``hashlib.scrypt`` hash (n=2**14, r=8, p=1: about 50 ms and 16 MiB per check; codes issued
with other parameters keep them, as their hash records them). These are a fifth of OWASP's
cost for *passwords*, on purpose: a secret here is 40 random bits, not a word a person chose,
so a stolen store still costs an attacker about 2^40 hashes per code (years of a GPU), while a
room of 500 signing in within a minute has to fit in two cores (docs/workshop.md has the
arithmetic). Typing is forgiving: case, spaces and dashes do not matter, and O is read as 0, I and
L as 1.

Throttling, all of it kept in the store so that it holds across kernels and machines:

- per code: each try is charged by one atomic ``UPDATE`` *before* the hash is checked, so
  concurrent guesses cannot slip past the count; after :data:`MAX_FAILURES` failures the code
  is locked for :data:`LOCKOUT` and even the right code is refused with the time to come back;
- per address: a room of hundreds shares one address (a venue's Wi-Fi, one proxy), so an
  address is never refused. Past :data:`ADDRESS_FREE_FAILURES` failed tries in
  :data:`ADDRESS_WINDOW` from one address, each *wrong* answer to that address comes later, by
  :data:`ADDRESS_DELAY_STEP` more per failure up to :data:`ADDRESS_DELAY_MAX`
  (:func:`address_delay`); a right code is answered at once. docs/workshop.md has what an
  attacker can still try, with the arithmetic;
- an unknown selector costs the same hash as a known one, so timing does not tell them apart.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import math
import numbers
import os
import re
import secrets
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from .errors import MasteryError, StoreError, ValidationError
from .framework import ID_EXPECTED, ID_PATTERN, Framework
from .schema import as_day
from .store import ACCESS_ATTEMPTS, ACCESS_CODES, SQL_TABLES, Store, stamp, utc_now

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
SELECTOR_LENGTH = 4
SECRET_LENGTH = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024  # 128 * r * n = 16 MiB (32 MiB for codes of n=2**15), plus OpenSSL's
_SALT_BYTES, _KEY_BYTES = 16, 32
MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
ADDRESS_FREE_FAILURES = 100
ADDRESS_WINDOW = dt.timedelta(hours=1)
ADDRESS_DELAY_STEP = 0.1  # seconds more per failure past the free ones
ADDRESS_DELAY_MAX = 10.0
_sleep = time.sleep  # tests replace it
NOTE_MAX = 2000
TITLE_MAX = 200
_TYPING = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212_.]+")
_ISSUE_TRIES = 20

WRONG_CODE = "That code is not right."
REVOKED_CODE = "That code has been replaced or withdrawn: ask your coach for a new one."


class AccessDenied(MasteryError):
    """A code or an action was refused. The message is plain and fit to show on a page.

    Attributes
    ----------
    retry_at : datetime or None
        When a locked code or address may try again (UTC), or None when waiting will not help.
    """

    def __init__(self, message: str, *, retry_at: dt.datetime | None = None):
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class Identity:
    """Who a verified code belongs to.

    role is ``"participant"`` (then ``participant_id`` and their ``cohort``) or ``"coach"``
    (then ``coach`` and the one ``cohort`` the code opens). ``code_id`` is the code's selector:
    sessions check on every write that the code has not been revoked since.
    """

    role: str
    participant_id: str | None
    coach: str | None
    cohort: str | None
    code_id: str | None = None


# ----------------------------------------------------------------------------- hashing
def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM,
                          dklen=_KEY_BYTES)


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$key`` (hex) of a code's secret, with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def _secret_matches(secret: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            raise ValueError(kind)
        expected = bytes.fromhex(key)
        got = _scrypt(secret, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        raise StoreError("an access code in the store has a damaged hash; issue a new code") from None
    return hmac.compare_digest(got, expected)


def _dummy_check(secret: str) -> None:
    """The same work as a real check, for selectors that match no code."""
    _secret_matches(secret, f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${'00' * _SALT_BYTES}${'00' * _KEY_BYTES}")


def normalise_code(code: str) -> tuple[str, str] | None:
    """(selector, secret) from what a person typed, or None when it cannot be a code."""
    if not isinstance(code, str) or len(code) > 64:
        return None
    plain = _SEPARATORS.sub("", code).upper().translate(_TYPING)
    if len(plain) != SELECTOR_LENGTH + SECRET_LENGTH or any(c not in ALPHABET for c in plain):
        return None
    return plain[:SELECTOR_LENGTH], plain[SELECTOR_LENGTH:]


def _random(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


# ----------------------------------------------------------------------------- issuing
def _issue(store: Store, *, role: str, participant_id=None, coach=None, cohort=None,
           revoke_previous: bool = True) -> str:
    secret = _random(SECRET_LENGTH)
    hashed = hash_secret(secret)  # outside the write transaction: it takes a quarter second
    t = ACCESS_CODES
    owner = (t.c.participant_id == participant_id) if role == "participant" else sa.and_(
        t.c.role == "coach", t.c.coach == coach, t.c.cohort == cohort)
    for _ in range(_ISSUE_TRIES):
        selector = _random(SELECTOR_LENGTH)
        with store._connection(write=True) as conn:
            if conn.execute(sa.select(t.c.selector).where(t.c.selector == selector)).first() is not None:
                continue  # selectors are never reused, not even those of revoked codes
            now = stamp()
            if revoke_previous:
                conn.execute(sa.update(t).where(owner, t.c.revoked_at.is_(None)).values(revoked_at=now))
            conn.execute(t.insert().values(selector=selector, secret_hash=hashed, role=role,
                                           participant_id=participant_id, coach=coach, cohort=cohort,
                                           issued_at=now, revoked_at=None, failed_attempts=0,
                                           locked_until=None))
        return f"{selector}-{secret}"
    raise StoreError(f"could not find a free code selector in {_ISSUE_TRIES} tries; the store holds "
                     "too many codes (revoked ones included)")


def issue_code(store: Store, participant_id: str, *, keep_previous: bool = False) -> str:
    """Issue a new code for a participant and revoke the one they had.

    Returns the code, ``SSSS-XXXXXXXX``. It is shown here once: the store keeps only the
    selector and the scrypt hash of the secret. With ``keep_previous`` the earlier codes
    stay valid until :func:`revoke_codes` (``keep=`` the new one) retires them: an e-mailed
    code replaces the old one only once the message was accepted (see
    :mod:`mastery_analysis.messaging`).
    """
    store.require_participant(participant_id)
    cohort = store.participants(participant=participant_id)["cohort"].iloc[0]
    return _issue(store, role="participant", participant_id=participant_id,
                  cohort=cohort if isinstance(cohort, str) else None, revoke_previous=not keep_previous)


def issue_coach_code(store: Store, coach: str, *, cohort: str) -> str:
    """Issue a coach's code for one cohort's coach page, revoking their previous one for it."""
    if not isinstance(coach, str) or not re.match(ID_PATTERN, coach):
        raise ValidationError("coach name", [{"row": None, "column": None, "value": coach,
                                              "expected": ID_EXPECTED}], noun="")
    store.require_cohort(cohort)
    return _issue(store, role="coach", coach=coach, cohort=cohort)


def issue_code_batch(store: Store, *, cohort: str, out: str | os.PathLike | None = None) -> pd.DataFrame:
    """Issue a new code for every member of a cohort (revoking their previous codes).

    With ``out``, the codes are also written to that new CSV file (participant_id, name,
    code; readable by its owner only), for a mail merge. The file is opened before the first
    code is issued, so a path that cannot be written costs nobody their code, and is moved
    into place once every code is in it.

    Returns
    -------
    DataFrame
        participant_id, name, code, in the order of the cohort's members.

    Raises
    ------
    StoreError
        For an ``out`` file that already exists or cannot be written.
    """
    from tqdm.auto import tqdm

    members = store.participants(cohort=cohort)
    if members.empty:
        store.require_cohort(cohort)
        raise StoreError(f"cohort '{cohort}' has no participants yet (`mastery participant import`)")
    target = Path(out) if out is not None else None
    handle = temp = None
    if target is not None:
        if target.exists():
            raise StoreError(f"{target} already exists: codes are written to a new file only")
        try:
            fd, temp = tempfile.mkstemp(prefix=".codes-", suffix=".csv", dir=target.parent.resolve())
            os.fchmod(fd, 0o600)
            handle = os.fdopen(fd, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    rows = []
    try:
        writer = csv.writer(handle) if handle else None
        if writer:
            writer.writerow(["participant_id", "name", "code"])
        for pid, name in tqdm(list(zip(members["participant_id"], members["name"])), desc="issuing codes",
                              unit="code", disable=len(members) < 10):
            code = issue_code(store, pid)
            name = name if isinstance(name, str) else ""
            rows.append({"participant_id": pid, "name": name, "code": code})
            if writer:
                writer.writerow([pid, name, code])
        if handle:
            handle.close()
            handle = None
            os.replace(temp, target)
            temp = None
    finally:
        if handle:
            handle.close()
        if temp:
            os.unlink(temp)
    return pd.DataFrame(rows, columns=["participant_id", "name", "code"])


def revoke_codes(store: Store, participant_id: str, *, keep: str | None = None,
                 only: str | None = None) -> int:
    """Revoke every live code of a participant (but the code ``keep``; or only the code
    ``only``). ``keep`` and ``only`` are codes (or their selectors). Returns how many were
    revoked."""
    store.require_participant(participant_id)
    t = ACCESS_CODES
    where = [t.c.participant_id == participant_id, t.c.revoked_at.is_(None)]
    if keep is not None:
        where.append(t.c.selector != keep.split("-")[0])
    if only is not None:
        where.append(t.c.selector == only.split("-")[0])
    with store._connection(write=True) as conn:
        return conn.execute(sa.update(t).where(*where).values(revoked_at=stamp())).rowcount


def revoke_coach_codes(store: Store, coach: str, *, cohort: str) -> int:
    """Revoke a coach's live codes for a cohort. Returns how many were revoked."""
    t = ACCESS_CODES
    with store._connection(write=True) as conn:
        return conn.execute(sa.update(t).where(t.c.role == "coach", t.c.coach == coach, t.c.cohort == cohort,
                                               t.c.revoked_at.is_(None)).values(revoked_at=stamp())).rowcount


def codes(store: Store, *, participant_id: str | None = None) -> pd.DataFrame:
    """The codes on record, without their hashes.

    Returns
    -------
    DataFrame
        selector, role, participant_id, coach, cohort, issued_at, revoked_at,
        failed_attempts, locked_until (times as UTC text), oldest first.
    """
    t = ACCESS_CODES
    cols = [t.c.selector, t.c.role, t.c.participant_id, t.c.coach, t.c.cohort, t.c.issued_at,
            t.c.revoked_at, t.c.failed_attempts, t.c.locked_until]
    query = sa.select(*cols).order_by(t.c.issued_at, t.c.selector)
    if participant_id is not None:
        query = query.where(t.c.participant_id == participant_id)
    with store._connection() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame.from_records(rows, columns=[c.name for c in cols])


# ----------------------------------------------------------------------------- verifying
def _clock(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%H:%M UTC")


def _locked(retry_at: dt.datetime) -> AccessDenied:
    return AccessDenied(f"Too many tries: try again after {_clock(retry_at)}.", retry_at=retry_at)


def address_delay(failures: int) -> float:
    """Seconds a wrong answer to an address waits, after ``failures`` failed tries from it in
    the window: none for the first :data:`ADDRESS_FREE_FAILURES`, then
    :data:`ADDRESS_DELAY_STEP` more per failure, at most :data:`ADDRESS_DELAY_MAX`."""
    return min(ADDRESS_DELAY_MAX, max(0, failures - ADDRESS_FREE_FAILURES) * ADDRESS_DELAY_STEP)


def _start_attempt(store: Store, address: str, now: dt.datetime) -> tuple[int, int]:
    """Record one try from ``address`` (committed before anything is checked). Returns the
    attempt's id and how many failed tries the address had in the window before it."""
    a = ACCESS_ATTEMPTS
    with store._connection(write=True, serialise=False) as conn:
        conn.execute(sa.delete(a).where(a.c.address == address, a.c.at < stamp(now - dt.timedelta(days=1))))
        attempt = conn.execute(a.insert().values(address=address, at=stamp(now), outcome="pending")
                               .returning(a.c.attempt_id)).scalar_one()
    window = stamp(now - ADDRESS_WINDOW)
    with store._connection() as conn:
        failures = conn.execute(sa.select(sa.func.count()).select_from(a).where(
            a.c.address == address, a.c.at >= window, a.c.outcome == "failed")).scalar_one()
    return attempt, int(failures)


def _finish_attempt(store: Store, attempt: int | None, outcome: str, *, selector=None, participant_id=None):
    if attempt is None:
        return
    a = ACCESS_ATTEMPTS
    with store._connection(write=True, serialise=False) as conn:
        conn.execute(sa.update(a).where(a.c.attempt_id == attempt).values(
            outcome=outcome, selector=selector, participant_id=participant_id))


def verify(store: Store, code: str, *, address: str | None = None,
           now: dt.datetime | None = None) -> Identity:
    """Check a typed code and return whose it is.

    Parameters
    ----------
    store : Store
    code : str
        What the person typed (case, spaces, dashes and O/0, I/L/1 do not matter).
    address : str, optional
        The client's address, for the per-address delay of wrong answers (None: no delay,
        as for the command line).
    now : datetime, optional
        The current time (UTC); for tests of lock-out expiry.

    Returns
    -------
    Identity

    Raises
    ------
    AccessDenied
        ``"That code is not right."`` for a wrong or unknown code; ``"Too many tries: try
        again after HH:MM UTC."`` (with ``retry_at``) for a locked code; a plain message for
        a revoked code. Past the address's free failures it is raised late
        (:func:`address_delay`).
    """
    now = utc_now() if now is None else now.astimezone(dt.timezone.utc)
    address = None if address is None else str(address)[:64]
    attempt, failures = _start_attempt(store, address, now) if address is not None else (None, 0)
    try:
        return _check(store, code, attempt, now)
    except AccessDenied:
        delay = address_delay(failures)
        if delay:  # a guesser from this address waits; a right code never comes here
            _sleep(delay)
        raise


def _check(store: Store, code: str, attempt: int | None, now: dt.datetime) -> Identity:
    parsed = normalise_code(code)
    if parsed is None:
        _finish_attempt(store, attempt, "failed")
        raise AccessDenied(WRONG_CODE)
    selector, secret = parsed
    t = ACCESS_CODES
    now_s, lock_s = stamp(now), stamp(now + LOCKOUT)
    expired = sa.and_(t.c.locked_until.is_not(None), t.c.locked_until <= now_s)
    # One statement charges the try and returns the state: concurrent guesses are counted
    # one by one by the database, before any of them is checked.
    charge = (sa.update(t).where(t.c.selector == selector).values(
        failed_attempts=sa.case((expired, 1), else_=t.c.failed_attempts + 1),
        locked_until=sa.case(
            (expired, sa.null()),
            (sa.and_(t.c.locked_until.is_(None), t.c.failed_attempts + 1 > MAX_FAILURES), lock_s),
            else_=t.c.locked_until),
    ).returning(t.c.failed_attempts, t.c.locked_until, t.c.secret_hash, t.c.role, t.c.participant_id,
                t.c.coach, t.c.cohort, t.c.revoked_at))
    with store._connection(write=True, serialise=False) as conn:
        row = conn.execute(charge).mappings().first()
    if row is None:
        _dummy_check(secret)
        _finish_attempt(store, attempt, "failed", selector=selector)
        raise AccessDenied(WRONG_CODE)
    who = row["participant_id"]
    if row["failed_attempts"] > MAX_FAILURES:
        _finish_attempt(store, attempt, "failed", selector=selector, participant_id=who)
        retry = dt.datetime.fromisoformat(row["locked_until"]) if row["locked_until"] else now + LOCKOUT
        raise _locked(retry)
    if not _secret_matches(secret, row["secret_hash"]):
        if row["failed_attempts"] >= MAX_FAILURES:  # the last allowed failure starts the lock-out
            with store._connection(write=True, serialise=False) as conn:
                conn.execute(sa.update(t).where(t.c.selector == selector, t.c.locked_until.is_(None))
                             .values(locked_until=lock_s))
        _finish_attempt(store, attempt, "failed", selector=selector, participant_id=who)
        raise AccessDenied(WRONG_CODE)
    if row["revoked_at"] is not None:
        _finish_attempt(store, attempt, "failed", selector=selector, participant_id=who)
        raise AccessDenied(REVOKED_CODE)
    with store._connection(write=True, serialise=False) as conn:
        conn.execute(sa.update(t).where(t.c.selector == selector, t.c.locked_until.is_(None))
                     .values(failed_attempts=0))
    _finish_attempt(store, attempt, "ok", selector=selector, participant_id=who)
    if row["role"] == "coach":
        return Identity("coach", None, row["coach"], row["cohort"], selector)
    cohort = store.participants(participant=who)["cohort"]
    return Identity("participant", who, None,
                    cohort.iloc[0] if len(cohort) and isinstance(cohort.iloc[0], str) else None, selector)


def _require_live(store: Store, identity: Identity) -> None:
    if identity.code_id is None:
        return
    t = ACCESS_CODES
    with store._connection() as conn:
        row = conn.execute(sa.select(t.c.revoked_at).where(t.c.selector == identity.code_id)).first()
    if row is None or row[0] is not None:
        raise AccessDenied(REVOKED_CODE)


# ----------------------------------------------------------------------------- checks
def _problem(column, value, expected):
    return {"row": None, "column": column, "value": value, "expected": expected}


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _latest_day() -> dt.date:
    # the participant's calendar day may be a day ahead of UTC (UTC+14 at most)
    return utc_now().date() + dt.timedelta(days=1)


def _check_day(day, failures) -> dt.date | None:
    try:
        when = as_day(day, what="day")
    except ValidationError:
        when = None
    if when is None:
        failures.append(_problem("day", day if isinstance(day, str) else repr(day), "a date like 2024-05-31"))
    elif when > _latest_day():
        failures.append(_problem("day", str(when), "today or an earlier day (not the future)"))
        when = None
    return when


def _check_text(value, column, max_len, failures, *, required=False):
    if value is None:
        if required:
            failures.append(_problem(column, None, "some text"))
        return None
    if not isinstance(value, str):
        failures.append(_problem(column, type(value).__name__, "text"))
        return None
    value = value.strip()
    if required and not value:
        failures.append(_problem(column, "", "some text"))
    elif len(value) > max_len:
        failures.append(_problem(column, f"{len(value)} characters", f"text of at most {max_len} characters"))
    return value or None


# ----------------------------------------------------------------------------- sessions
class ParticipantSession:
    """The one place a served participant reads and writes, bound to a verified identity.

    Every method re-checks what it is given (ranges, day, goal ownership, text length) before
    the store's own write path checks it again, and reads return the participant's own rows
    only. Messages never name another participant.

    Parameters
    ----------
    store : Store
    identity : Identity
        From :func:`verify`; its role must be ``participant``.
    """

    def __init__(self, store: Store, identity: Identity):
        if not isinstance(identity, Identity) or identity.role != "participant" or not identity.participant_id:
            raise AccessDenied("This page is for participants: type your own code.")
        self._store = store
        self._identity = identity
        me = store.participants(participant=identity.participant_id)
        if me.empty:
            raise AccessDenied(REVOKED_CODE)
        cohort = me["cohort"].iloc[0]
        self.participant_id: str = identity.participant_id
        self.cohort: str | None = cohort if isinstance(cohort, str) else None
        self.name: str | None = me["name"].iloc[0] if isinstance(me["name"].iloc[0], str) else None
        self.framework: Framework = store.cohort_framework(self.cohort)

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def open_phase(self) -> str | None:
        """The questionnaire phase the coach has opened for this cohort (read afresh each time)."""
        return None if self.cohort is None else self._store.cohort(self.cohort)["open_phase"]

    @property
    def questionnaires(self) -> list:
        """The questionnaires the open phase asks, in order (``[]`` when none is open)."""
        from .framework import load_instrument

        if self.cohort is None:
            return []
        return [load_instrument(n) for n in self._store.cohort_instruments(self.cohort)]

    @property
    def consent_share(self) -> bool:
        return bool(self._store.participants(participant=self.participant_id)["consent_share"].iloc[0])

    # -------------------------------------------------------------- reads: own rows only
    def ratings(self) -> pd.DataFrame:
        """Own ratings (the store's ratings columns)."""
        return self._store.ratings(participant=self.participant_id)

    def actions(self) -> pd.DataFrame:
        """Own actions (the store's actions columns)."""
        return self._store.actions(participant=self.participant_id)

    def progress(self) -> pd.DataFrame:
        """Own goal progress (the store's progress columns)."""
        return self._store.progress(participant=self.participant_id)

    def goals(self, *, include_archived: bool = True) -> pd.DataFrame:
        """Own goals (the store's goals columns)."""
        return self._store.goals(participant=self.participant_id, include_archived=include_archived)

    def responses(self) -> pd.DataFrame:
        """Own questionnaire responses (the store's responses columns)."""
        return self._store.responses(participant=self.participant_id)

    # -------------------------------------------------------------- writes
    def _own_goals(self) -> pd.DataFrame:
        return self.goals()

    def check_in(self, day, *, ratings: Mapping[str, int] | None, vision: Mapping[str, int] | None = None,
                 actions: Mapping[str, int | Mapping] | None = None,
                 progress: Mapping[str, float] | None = None, note: str | None = None,
                 adherence: Mapping[str, bool] | None = None,
                 note_values: Mapping[str, float] | None = None) -> dict:
        """Save one day of the participant's own check-in (one transaction).

        ``ratings`` and ``vision`` map elements of the cohort's framework to integers on its
        scale; ``actions`` maps own, active goal ids to a count (0 to 1000) or to
        ``{"count": int, "minutes": number}``; ``progress`` maps own goal ids to a percent
        (0 to 100); ``note`` is at most 2000 characters; ``adherence`` maps own experiment
        ids to True or False ("did you follow today's condition?"); ``note_values`` maps the
        ``note:NAME`` outcomes of own experiments to a finite number (the day's value).

        Returns
        -------
        dict of table -> rows written.

        Raises
        ------
        ValidationError
            Listing every bad value; nothing is written.
        AccessDenied
            When the code has been revoked since the page opened.
        """
        _require_live(self._store, self._identity)
        failures: list[dict] = []
        when = _check_day(day, failures)
        scale, keys = self.framework.scale, set(self.framework.keys)
        clean_ratings = {}
        for what, given in (("ratings", ratings), ("vision", vision)):
            if given is None:
                continue
            if not isinstance(given, Mapping):
                failures.append(_problem(what, type(given).__name__, "a dict of element -> rating"))
                continue
            out = {}
            for element, value in given.items():
                if element not in keys:
                    failures.append(_problem(f"{what}.element", element,
                                             f"one of the {self.framework.name} elements ({', '.join(self.framework.keys)})"))
                elif not _is_int(value) or not scale.contains(value):
                    failures.append(_problem(f"{what}.{element}", value if _is_number(value) else repr(value),
                                             scale.describe()))
                else:
                    out[element] = int(value)
            clean_ratings[what] = out
        goals = self._own_goals()
        active = set(goals.loc[~goals["archived"], "goal_id"])
        mine = set(goals["goal_id"])
        clean_actions = {}
        if actions is not None:
            if not isinstance(actions, Mapping):
                failures.append(_problem("actions", type(actions).__name__, "a dict of goal_id -> count"))
            else:
                for goal_id, value in actions.items():
                    if goal_id not in active:
                        failures.append(_problem("actions.goal_id", str(goal_id)[:80], "one of your own active goals"))
                        continue
                    count, minutes = (value.get("count"), value.get("minutes")) if isinstance(value, Mapping) \
                        else (value, None)
                    if not _is_int(count) or not 0 <= count <= 1000:
                        failures.append(_problem(f"actions.{goal_id}.count", count if _is_number(count) else repr(count),
                                                 "a whole number of actions from 0 to 1000"))
                        continue
                    if minutes is not None and (not _is_number(minutes) or not 0 <= minutes <= 1440):
                        failures.append(_problem(f"actions.{goal_id}.minutes",
                                                 minutes if _is_number(minutes) else repr(minutes),
                                                 "minutes from 0 to 1440"))
                        continue
                    clean_actions[goal_id] = {"count": int(count),
                                              "minutes": None if minutes is None else float(minutes)}
        clean_progress = {}
        if progress is not None:
            if not isinstance(progress, Mapping):
                failures.append(_problem("progress", type(progress).__name__, "a dict of goal_id -> percent"))
            else:
                for goal_id, value in progress.items():
                    if goal_id not in mine:
                        failures.append(_problem("progress.goal_id", str(goal_id)[:80], "one of your own goals"))
                    elif not _is_number(value) or not 0 <= value <= 100:
                        failures.append(_problem(f"progress.{goal_id}", value if _is_number(value) else repr(value),
                                                 "a percent from 0 to 100"))
                    else:
                        clean_progress[goal_id] = float(value)
        clean_note = _check_text(note, "note", NOTE_MAX, failures)
        clean_adherence = {}
        if adherence is not None:  # self-experiments: own experiments only, answers true or false
            if not isinstance(adherence, Mapping):
                failures.append(_problem("adherence", type(adherence).__name__, "a dict of experiment_id -> true or false"))
            else:
                own = set(self._store.experiments(participant=self.participant_id)["experiment_id"])
                for xid, flag in adherence.items():
                    if xid not in own:
                        failures.append(_problem("adherence.experiment_id", str(xid)[:80], "one of your own experiments"))
                    elif not isinstance(flag, bool):
                        failures.append(_problem(f"adherence.{xid}", repr(flag)[:80], "true or false"))
                    else:
                        clean_adherence[xid] = flag
        clean_notes = {}
        if note_values is not None:  # numeric notes: the note outcomes of own experiments only
            if not isinstance(note_values, Mapping):
                failures.append(_problem("note_values", type(note_values).__name__, "a dict of name -> number"))
            else:
                exps = self._store.experiments(participant=self.participant_id)
                names = set(exps.loc[exps["outcome_kind"] == "note", "outcome_ref"])
                for name, value in note_values.items():
                    if name not in names:
                        failures.append(_problem("note_values.name", str(name)[:80],
                                                 "the note of one of your own experiments"))
                    elif not _is_number(value):
                        failures.append(_problem(f"note_values.{name}", repr(value)[:80], "a finite number"))
                    else:
                        clean_notes[name] = float(value)
        if not failures and not (clean_ratings.get("ratings") or clean_ratings.get("vision")
                                 or clean_actions or clean_progress or clean_adherence or clean_notes):
            failures.append(_problem(None, "(nothing)", "at least one rating, action or progress"))
        if failures:
            raise ValidationError("check-in", failures, noun="")
        return self._store.record_checkin(
            self.participant_id, when, ratings=clean_ratings.get("ratings") or {},
            vision=clean_ratings.get("vision") or None, actions=clean_actions or None,
            progress=clean_progress or None, note=clean_note, source="app", framework=self.framework,
            adherence=clean_adherence or None, note_values=clean_notes or None)

    def save_goal(self, *, title: str, goal_id: str | None = None, element: str | None = None,
                  freq_times: int = 1, freq_days: int = 1, due_date=None, target: str | None = None) -> str:
        """Add a goal (``goal_id=None``) or edit one of the participant's own goals.

        Returns the goal's id (a new one is made here; a browser never chooses it).

        Raises
        ------
        ValidationError
            For a goal that is not the participant's, or any bad value; nothing is written.
        """
        _require_live(self._store, self._identity)
        failures: list[dict] = []
        goals = self._own_goals()
        existing = None
        if goal_id is not None:
            match = goals.loc[goals["goal_id"] == goal_id] if isinstance(goal_id, str) else goals.iloc[0:0]
            if match.empty:
                failures.append(_problem("goal_id", str(goal_id)[:80], "one of your own goals"))
            else:
                existing = match.iloc[0]
        clean_title = _check_text(title, "title", TITLE_MAX, failures, required=True)
        if element is not None and element not in self.framework.keys:
            failures.append(_problem("element", element, f"one of {', '.join(self.framework.keys)} or none"))
        for column, value in (("freq_times", freq_times), ("freq_days", freq_days)):
            if not _is_int(value) or not 1 <= value <= 366:
                failures.append(_problem(column, value if _is_number(value) else repr(value),
                                         "a whole number from 1 to 366"))
        if _is_int(freq_times) and _is_int(freq_days) and freq_times > freq_days:
            failures.append(_problem("freq_times", freq_times, f"at most freq_days ({freq_days})"))
        start = existing["start_date"].date() if existing is not None else utc_now().date()
        due = None
        if due_date is not None:
            try:
                due = as_day(due_date, what="due_date")
            except ValidationError:
                failures.append(_problem("due_date", repr(due_date), "a date like 2024-05-31"))
            else:
                if due < start:
                    failures.append(_problem("due_date", str(due), f"on or after the start date ({start})"))
        clean_target = _check_text(target, "target", TITLE_MAX, failures)
        if failures:
            raise ValidationError("goal", failures, noun="")
        new_id = goal_id if existing is not None else f"{self.participant_id[:50]}-g{secrets.token_hex(4)}"
        row = {"goal_id": new_id, "participant_id": self.participant_id, "title": clean_title,
               "element": element, "freq_times": int(freq_times), "freq_days": int(freq_days),
               "start_date": start, "due_date": due, "target": clean_target,
               "archived": bool(existing["archived"]) if existing is not None else False}
        self._store.write("goals", pd.DataFrame([row]), where=f"goal of {self.participant_id}",
                          framework=self.framework)
        return new_id

    def archive_goal(self, goal_id: str) -> None:
        """Archive one of the participant's own goals (a new version; the history keeps the old)."""
        _require_live(self._store, self._identity)
        goals = self._own_goals()
        match = goals.loc[goals["goal_id"] == goal_id] if isinstance(goal_id, str) else goals.iloc[0:0]
        if match.empty:
            raise ValidationError("goal", [_problem("goal_id", str(goal_id)[:80], "one of your own goals")], noun="")
        row = match.iloc[0].to_dict()
        row["archived"] = True
        self._store.write("goals", pd.DataFrame([row]), where=f"goal of {self.participant_id}",
                          framework=self.framework)

    def answer(self, answers: Mapping[tuple[str, str], float], *, day) -> int:
        """Save answers to the open phase's questionnaire.

        ``answers`` maps ``(instrument, item)`` of a questionnaire the open phase asks (the
        cohort framework's own, or the instruments the coach chose for the phase) to a value
        on that questionnaire's scale. Returns the number of rows written.

        Raises
        ------
        AccessDenied
            When no questionnaire is open for the cohort.
        ValidationError
            For an item not in the questionnaire, a value off its scale, or a bad day.
        """
        _require_live(self._store, self._identity)
        phase = self.open_phase
        asked = self.questionnaires if phase is not None else []
        if not asked:
            raise AccessDenied("No questionnaire is open at the moment.")
        failures: list[dict] = []
        when = _check_day(day, failures)
        scale_of = {(q.instrument, i.id): q.scale for q in asked for i in q.items}
        names = ", ".join(q.instrument for q in asked)
        rows = []
        if not isinstance(answers, Mapping) or not answers:
            failures.append(_problem("answers", type(answers).__name__, "answers to the questionnaire's items"))
        else:
            for key, value in answers.items():
                scale = scale_of.get(key) if isinstance(key, tuple) else None
                if scale is None:
                    failures.append(_problem("item", str(key)[:80], f"an item of {names}"))
                elif not _is_number(value) or not scale.contains(value):
                    failures.append(_problem(f"item {key[1]}", value if _is_number(value) else repr(value),
                                             scale.describe()))
                else:
                    rows.append({"participant_id": self.participant_id, "date": when, "phase": phase,
                                 "instrument": key[0], "item": key[1], "value": float(value)})
        if failures:
            raise ValidationError("questionnaire", failures, noun="")
        return self._store.write("responses", pd.DataFrame(rows),
                                 where=f"questionnaire of {self.participant_id}", framework=self.framework)

    def set_consent(self, share: bool) -> None:
        """Agree (True) or not (False) that the coach's cohort views show this person's rows."""
        _require_live(self._store, self._identity)
        if not isinstance(share, bool):
            raise ValidationError("consent", [_problem("share", repr(share), "true or false")], noun="")
        self._store.set_consent(self.participant_id, share)

    # -------------------------------------------------------------- e-mail: own address and opt-out
    def contact(self) -> dict:
        """Own e-mail settings: ``{"email": str or None, "opted_out": bool}``."""
        _require_live(self._store, self._identity)
        row = self._store.contacts(participant=self.participant_id)
        if row.empty:
            return {"email": None, "opted_out": False}
        email = row["email"].iloc[0]
        return {"email": email if isinstance(email, str) else None, "opted_out": bool(row["opted_out"].iloc[0])}

    def set_email(self, email: str | None) -> None:
        """Set (or, blank, remove) own e-mail address, for the coach's invitations and nudges."""
        _require_live(self._store, self._identity)
        if email is not None and not isinstance(email, str):
            raise ValidationError("email", [_problem("email", type(email).__name__, "text")], noun="")
        self._store.set_email(self.participant_id, None if email is None else email[:300])

    def set_opt_out(self, opted_out: bool) -> None:
        """No more e-mail from the coach (True), or e-mail again (False)."""
        _require_live(self._store, self._identity)
        self._store.set_opt_out(self.participant_id, opted_out)


class CoachSession:
    """What a coach's page may read: one cohort, under the privacy rules.

    Parameters
    ----------
    store : Store
    identity : Identity
        From :func:`verify`; its role must be ``coach``.
    """

    def __init__(self, store: Store, identity: Identity):
        if not isinstance(identity, Identity) or identity.role != "coach" or not identity.cohort:
            raise AccessDenied("This page is for coaches: type your coach's code.")
        self._store = store
        self._identity = identity
        self.cohort: str = identity.cohort
        self.coach: str | None = identity.coach
        self.framework: Framework = store.cohort_framework(self.cohort)

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def open_phase(self) -> str | None:
        return self._store.cohort(self.cohort)["open_phase"]

    def participation(self, *, week_ending=None) -> pd.DataFrame:
        """Who has checked in, by name: dates only, no ratings.

        Parameters
        ----------
        week_ending : date-like, optional
            The last day of the seven-day week counted (default: today, UTC).

        Returns
        -------
        DataFrame
            One row per member of the cohort, sorted by name then id: participant_id, name,
            last_check_in (the latest day with a rating, action or progress row; NaT for
            none), days_this_week (distinct days with a check-in in the week),
            checked_in_this_week (bool).
        """
        _require_live(self._store, self._identity)
        end = as_day(week_ending, what="week_ending") if week_ending is not None else utc_now().date()
        start = end - dt.timedelta(days=6)
        members = self._store.participants(cohort=self.cohort)[["participant_id", "name"]]
        days = pd.concat([self._dates(t) for t in ("ratings", "actions", "progress")], ignore_index=True)
        days = days.drop_duplicates()
        last = days.groupby("participant_id")["date"].max().rename("last_check_in")
        week = days.loc[(days["date"] >= pd.Timestamp(start)) & (days["date"] <= pd.Timestamp(end))]
        count = week.groupby("participant_id").size().rename("days_this_week")
        out = members.merge(last, on="participant_id", how="left").merge(count, on="participant_id", how="left")
        out["last_check_in"] = pd.to_datetime(out["last_check_in"]).astype("datetime64[ns]")
        out["days_this_week"] = out["days_this_week"].fillna(0).astype("int64")
        out["checked_in_this_week"] = out["days_this_week"] > 0
        out = out.assign(_n=out["name"].fillna(out["participant_id"]).str.lower())
        return out.sort_values(["_n", "participant_id"]).drop(columns="_n").reset_index(drop=True)

    def _dates(self, table: str) -> pd.DataFrame:
        t = SQL_TABLES[table]
        members = self._store._latest_select("participants", ["participant_id", "cohort"]).subquery()
        query = sa.select(t.c.participant_id, t.c.date).where(t.c.participant_id.in_(
            sa.select(members.c.participant_id).where(members.c.cohort == self.cohort))).distinct()
        with self._store._connection() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=["participant_id", "date"])
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
        return frame

    def cohort_frames(self) -> dict[str, pd.DataFrame]:
        """The cohort's frames as the privacy rules allow individual rows to be shown.

        Returns
        -------
        dict of str -> DataFrame
            ``participants`` (every member: participant_id, name, joined_on, consent_share;
            a coach knows who is in the workshop), and ``ratings``, ``actions``,
            ``progress``, ``goals``, ``responses`` with the store's columns, holding the rows
            of consenting members only (:func:`analysis.privacy.consenting_only`).
        """
        from .analysis.privacy import consenting_only

        _require_live(self._store, self._identity)
        s = self._store
        members = s.participants(cohort=self.cohort)
        frames = {"participants": members[["participant_id", "name", "joined_on", "consent_share"]]
                  .reset_index(drop=True)}
        for table in ("ratings", "actions", "progress", "goals", "responses"):
            frames[table] = consenting_only(getattr(s, table)(cohort=self.cohort), members)
        return frames

    def cohort_change(self, *, pre: str = "baseline", post: str = "post", min_n: int | None = None) -> pd.DataFrame:
        """Pre/post change per element over every member's questionnaire (aggregates only, so
        everyone counts), with groups under ``min_n`` people suppressed.

        Returns
        -------
        DataFrame
            The columns of :func:`analysis.cohort.cohort_change`.
        """
        from .analysis import cohort
        from .analysis.reliability import scale_reliability

        _require_live(self._store, self._identity)
        responses = self._store.responses(cohort=self.cohort)
        scores = cohort.score_responses(responses, self.framework)
        rel = scale_reliability(responses, framework=self.framework, phase=pre)
        kw = {} if min_n is None else {"min_n": min_n}
        return cohort.cohort_change(scores, pre=pre, post=post, framework=self.framework, reliability=rel, **kw)
