"""E-mail to participants: invitations with a new code, friendly nudges, and what was sent.

A coach sends through their own mail server (:func:`smtp_server`): ``smtp://user@host:port``
speaks STARTTLS (required unless the host is this machine, as a local relay or a test server
is), ``smtps://user@host:port`` implicit TLS; with a user the password comes from
``$MASTERY_SMTP_PASSWORD`` alone, never from the URL, and it is neither logged nor stored.
Without a user there is no login. :class:`FolderOutbox` writes the messages as ``.eml``
files instead, for the coach to read first (a dry run: nothing is issued or recorded).

- :func:`invite` issues each person a new code (:func:`mastery_analysis.access.issue_code`)
  and mails it with the page's address. The code is in the text, never in a link (links
  leak into logs and histories). The earlier code stops working once the server has taken
  the message; a refused message leaves the person with the code they had.
- :func:`nudge` mails those who have not checked in for some days and have not opted out.
- Every message is claimed in the store's ``messages`` table before it goes (who, kind,
  day, outcome; never the code or the text), so a second run the same day sends nothing
  twice, and an opted-out person is never mailed (:meth:`Store.claim_message`).
- Each message has a plain-text and an HTML part. Names are escaped in the HTML, and any
  line break or control character in a name becomes a space before it reaches a header;
  the message is built with :class:`email.message.EmailMessage` and ``policy=SMTP``, which
  refuses a header value with a line break in any case.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import html
import ipaddress
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

from .access import CoachSession, Identity, issue_code, revoke_codes
from .errors import MailError, MasteryError
from .schema import as_day, as_email

PASSWORD_ENV = "MASTERY_SMTP_PASSWORD"
SMTP_ENV = "MASTERY_SMTP"
PAGE_URL_ENV = "MASTERY_PAGE_URL"
FROM_ENV = "MASTERY_MAIL_FROM"
COACH_NAME_ENV = "MASTERY_COACH_NAME"
REPLY_TO_ENV = "MASTERY_REPLY_TO"
TIMEOUT = 30
QUIET_DAYS = 3
PLACEHOLDER_CODE = "XXXX-XXXXXXXX"
KINDS = ("invite", "nudge")
RESULT_COLUMNS = ["participant_id", "name", "email", "outcome", "detail"]
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


# ----------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: from :func:`smtp_server`.

    Attributes
    ----------
    scheme : str
        ``smtp`` (STARTTLS; plain only to a loopback host) or ``smtps`` (implicit TLS).
    host, port, user
        ``user`` None means no login.
    password : str or None
        From ``$MASTERY_SMTP_PASSWORD``; never shown by ``repr``.
    cafile : str or None
        A CA certificate to trust besides the system's (a private server's own).
    """

    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @property
    def loopback(self) -> bool:
        return _is_loopback(self.host)

    def __str__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}"


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def smtp_server(url: str, *, password: str | None = None, cafile: str | None = None,
                environ=None) -> SmtpServer:
    """Read ``smtp://user@host:port`` or ``smtps://user@host:port``.

    Parameters
    ----------
    url : str
        The server. No password in it: with a user, the password comes from ``password``
        or ``$MASTERY_SMTP_PASSWORD``. The port defaults to 587 (smtp) or 465 (smtps).
    password : str, optional
    cafile : str, optional
        A CA certificate (PEM) to trust for this server.
    environ : mapping, optional
        Where ``$MASTERY_SMTP_PASSWORD`` is read (default: ``os.environ``).

    Raises
    ------
    MailError
        For a URL that is not one of these, a password in the URL, or a user without a
        password.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(url, str) or not url.strip():
        raise MailError("no mail server: give --smtp smtp://user@host:port (or set $MASTERY_SMTP)")
    parts = urlsplit(url.strip())
    shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else url[:60]
    if parts.scheme not in ("smtp", "smtps"):
        raise MailError(f"--smtp {shown!r}: expected smtp://user@host:port (STARTTLS) or "
                        "smtps://user@host:port (TLS)")
    if parts.password is not None:
        raise MailError(f"--smtp {shown}: never put the password in the URL (it would land in "
                        f"shell histories and process lists); set ${PASSWORD_ENV} instead")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MailError(f"--smtp {shown!r}: expected smtp://user@host:port, nothing after the port")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise MailError(f"--smtp {shown}: the port must be a number from 1 to 65535") from None
    user = unquote(parts.username) if parts.username else None
    if user is not None and password is None:
        password = environ.get(PASSWORD_ENV) or None
        if password is None:
            raise MailError(f"--smtp {parts.scheme}://{user}@{parts.hostname}: set ${PASSWORD_ENV} to "
                            "the mail account's password (or leave the user out for no login)")
    if cafile is not None and not Path(cafile).is_file():
        raise MailError(f"--smtp-ca {cafile}: no such file")
    return SmtpServer(parts.scheme, parts.hostname, port, user, password if user else None, cafile)


@dataclass(frozen=True)
class Sender:
    """Who the messages come from and where they point.

    Attributes
    ----------
    address : str
        The From address.
    name : str or None
        The coach's name (in From and the signature).
    reply_to : str or None
    page_url : str or None
        The participant page's address (http or https, no query): the invitation's link.
    """

    address: str
    name: str | None = None
    reply_to: str | None = None
    page_url: str | None = None


def sender(address: str | None, *, name: str | None = None, reply_to: str | None = None,
           page_url: str | None = None) -> Sender:
    """A checked :class:`Sender`.

    Raises
    ------
    AddressError
        For a From or Reply-To that is not an address.
    MailError
        For no From address, or a page address that is not a plain http(s) URL.
    """
    if address is None or not str(address).strip():
        raise MailError(f"no sender address: give --from ADDRESS (or set ${FROM_ENV})")
    frm = as_email(address, what="--from")
    reply = as_email(reply_to, what="--reply-to") if reply_to else None
    clean_name = _header_text(name) if name else None
    url = None
    if page_url:
        url = page_url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or parts.username or _CONTROL.search(url) or " " in url:
            raise MailError(f"--page-url {url[:80]!r}: expected the participant page's address, like "
                            "https://workshop.example.org/ (http or https, no ?query, no #part)")
    return Sender(frm, clean_name or None, reply, url)


def _header_text(text) -> str:
    """A name fit for a header: control characters and line breaks become one space."""
    if not isinstance(text, str):
        return ""
    return " ".join(_CONTROL.sub(" ", text).split())[:100]


def mail_settings(*, smtp: str | None = None, cafile: str | None = None, from_address: str | None = None,
                  coach_name: str | None = None, reply_to: str | None = None, page_url: str | None = None,
                  need_server: bool = True, environ=None) -> tuple[SmtpServer | None, Sender]:
    """The server and sender from options, each falling back to its environment variable
    (``$MASTERY_SMTP``, ``$MASTERY_MAIL_FROM``, ``$MASTERY_COACH_NAME``, ``$MASTERY_REPLY_TO``,
    ``$MASTERY_PAGE_URL``; the password only ever from ``$MASTERY_SMTP_PASSWORD``). Without
    a From address, the SMTP user is used when it is an address. ``need_server=False``
    (a dry run) reads no server."""
    env = os.environ if environ is None else environ

    def pick(value, name):
        return value if value is not None else (env.get(name) or None)

    server = smtp_server(pick(smtp, SMTP_ENV), cafile=cafile, environ=env) if need_server else None
    frm = pick(from_address, FROM_ENV)
    if frm is None and server is not None and server.user and "@" in server.user:
        frm = server.user
    return server, sender(frm, name=pick(coach_name, COACH_NAME_ENV), reply_to=pick(reply_to, REPLY_TO_ENV),
                          page_url=pick(page_url, PAGE_URL_ENV))


# ----------------------------------------------------------------------------- outboxes
class Refused(Exception):
    """The server would not take one message (its reply in the message); the others go on."""


class SmtpOutbox:
    """Send through a mail server; a context manager that connects and logs in on entry.

    Raises :class:`MailError` on entry for a server that cannot be reached, will not speak
    TLS to a host that is not this machine, or refuses the login: then nothing was sent.
    """

    dry_run = False

    def __init__(self, server: SmtpServer, *, timeout: float = TIMEOUT):
        self.server = server
        self.timeout = timeout
        self._smtp = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.server.cafile:
            ctx.load_verify_locations(self.server.cafile)
        return ctx

    def __enter__(self) -> "SmtpOutbox":
        s = self.server
        try:
            if s.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise _untrusted(s, exc) from None
        except ssl.SSLError as exc:
            raise MailError(f"cannot reach the mail server {s.host}:{s.port} over TLS ({_reason(exc)}); "
                            "nothing was sent") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"cannot reach the mail server {s.host}:{s.port} ({_reason(exc)}); "
                            "nothing was sent") from None
        try:
            smtp.ehlo()
            if s.scheme == "smtp":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                elif not s.loopback:
                    raise MailError(f"the mail server {s.host}:{s.port} does not offer STARTTLS; "
                                    "refusing to send codes in clear text over the network (use "
                                    "smtps:// or a relay on this machine); nothing was sent")
            if s.user:
                try:
                    smtp.login(s.user, s.password or "")
                except smtplib.SMTPAuthenticationError as exc:
                    raise MailError(f"the mail server {s.host}:{s.port} refused the login of "
                                    f"'{s.user}' ({exc.smtp_code}): check ${PASSWORD_ENV}; "
                                    "nothing was sent") from None
                except smtplib.SMTPNotSupportedError:
                    raise MailError(f"the mail server {s.host}:{s.port} offers no login here; "
                                    f"leave the user out of --smtp; nothing was sent") from None
        except MailError:
            _quit(smtp)
            raise
        except ssl.SSLCertVerificationError as exc:
            _quit(smtp)
            raise _untrusted(s, exc) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quit(smtp)
            raise MailError(f"the mail server {s.host}:{s.port} failed while connecting "
                            f"({_reason(exc)}); nothing was sent") from None
        self._smtp = smtp
        return self

    def send(self, message: EmailMessage, *, label: str = "") -> None:
        """Send one message. Raises :class:`Refused` for this message alone and
        :class:`MailError` when the server is gone or refuses the sender."""
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise Refused(f"{code} {_text(reply)}") from None
        except smtplib.SMTPDataError as exc:
            raise Refused(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPSenderRefused as exc:
            raise MailError(f"the mail server refused the sender {exc.sender} ({exc.smtp_code} "
                            f"{_text(exc.smtp_error)})") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"the mail server {self.server.host} stopped answering ({_reason(exc)})") from None

    def __exit__(self, *exc):
        if self._smtp is not None:
            _quit(self._smtp)
            self._smtp = None


class FolderOutbox:
    """Write each message as ``NN-<participant>-<kind>.eml`` into ``folder`` (made if needed;
    existing files are never overwritten). Used for a dry run: invitations carry a
    placeholder code, and nothing is issued or recorded."""

    dry_run = True

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.written: list[Path] = []

    def __enter__(self) -> "FolderOutbox":
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MailError(f"cannot make the folder {self.folder}: {exc.strerror or exc}") from None
        return self

    def send(self, message: EmailMessage, *, label: str = "") -> None:
        name = re.sub(r"[^A-Za-z0-9_.@-]+", "-", label).strip("-") or "message"
        path = self.folder / f"{len(self.written) + 1:02d}-{name}.eml"
        try:
            with open(path, "xb") as handle:
                handle.write(message.as_bytes(policy=email.policy.SMTP))
        except FileExistsError:
            raise MailError(f"{path} exists already: write the messages into a new or empty folder") from None
        except OSError as exc:
            raise MailError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.written.append(path)

    def __exit__(self, *exc):
        return None


def _untrusted(server: SmtpServer, exc: ssl.SSLCertVerificationError) -> MailError:
    return MailError(f"the certificate of the mail server {server.host}:{server.port} is not trusted "
                     f"({_text(exc.verify_message or exc.reason)}); if it is your organisation's own, "
                     "give --smtp-ca FILE with its CA certificate; nothing was sent")


def _quit(smtp) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        try:
            smtp.close()
        except OSError:
            pass


def _text(reply) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(_CONTROL.sub(" ", str(reply)).split())[:200]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "no answer in time"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    text = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return _text(text)


# ----------------------------------------------------------------------------- composing
def _message(*, to_name: str | None, to_address: str, subject: str, text: str, html_body: str,
             sender: Sender) -> EmailMessage:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = Address(display_name=sender.name or "", addr_spec=sender.address)
    msg["To"] = Address(display_name=_header_text(to_name), addr_spec=to_address)
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid(domain=sender.address.rsplit("@", 1)[1])
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies, please
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    return msg


def _greeting(name) -> str:
    name = _header_text(name)
    return f"Hello {name}," if name else "Hello,"


def _html(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
            f"<body style=\"font-family:sans-serif;font-size:15px;line-height:1.4\">{body}</body></html>")


def _link(url: str) -> str:
    e = html.escape(url, quote=True)
    return f'<a href="{e}">{e}</a>'


def _signature(sender: Sender) -> str:
    return sender.name or "Your coach"


def compose_invite(*, name: str | None, address: str, code: str, cohort: str | None,
                   sender: Sender, replaces: bool = True) -> EmailMessage:
    """The invitation: the page's address (a link) and the personal code (text only).

    Parameters
    ----------
    name : str or None
        The participant's name (escaped in HTML; line breaks become spaces).
    address : str
    code : str
        The new code; it appears in the text and in the HTML as text, never in a link.
    cohort : str or None
    sender : Sender
        ``page_url`` is required.
    replaces : bool
        Say that any earlier code no longer works.
    """
    if not sender.page_url:
        raise MailError(f"an invitation needs the participant page's address: give --page-url URL "
                        f"(or set ${PAGE_URL_ENV})")
    who = _signature(sender)
    workshop = f' "{cohort}"' if cohort else ""
    subject = "Your personal code for the Mastery check-in"
    old = " Any code you had before no longer works." if replaces else ""
    text = (f"{_greeting(name)}\n\n"
            f"{who} invites you to the daily check-in of the workshop{workshop}.\n\n"
            f"1. Open the check-in page:\n   {sender.page_url}\n\n"
            f"2. Type your personal code when the page asks for it:\n\n   {code}\n\n"
            f"The code is yours alone: keep it to yourself.{old} It is not part of any link: "
            "type it into the page.\n\n"
            "Reply to this message if you have a question.\n\n"
            f"-- \n{who}\n")
    e = html.escape
    paragraphs = [
        e(_greeting(name)),
        f"{e(who)} invites you to the daily check-in of the workshop{e(workshop)}.",
        f"1. Open the check-in page: {_link(sender.page_url)}",
        "2. Type your personal code when the page asks for it:",
        f"<span style=\"font-family:monospace;font-size:20px;letter-spacing:2px\">{e(code)}</span>",
        f"The code is yours alone: keep it to yourself.{e(old)} It is not part of any link: "
        "type it into the page.",
        "Reply to this message if you have a question.",
        f"&mdash; {e(who)}",
    ]
    return _message(to_name=name, to_address=address, subject=subject, text=text,
                    html_body=_html(paragraphs), sender=sender)


def compose_nudge(*, name: str | None, address: str, days_quiet: int | None, sender: Sender) -> EmailMessage:
    """A short, friendly reminder to check in, with how to stop these messages.

    ``days_quiet`` is the number of days since the last check-in (None: never checked in).
    """
    who = _signature(sender)
    since = ("You have not checked in yet." if days_quiet is None
             else f"It has been {days_quiet} day{'s' if days_quiet != 1 else ''} since your last check-in.")
    subject = "A friendly reminder: your Mastery check-in"
    ask = ("Two minutes today keep the habit going: rate the five elements and note one small "
           "action toward a goal.")
    where = f"\n\nOpen your page: {sender.page_url}" if sender.page_url else ""
    stop = ("You can stop these messages at any time on your page (the Reminders tab), or reply "
            "to say so.")
    text = f"{_greeting(name)}\n\n{since} {ask}{where}\n\n{stop}\n\n-- \n{who}\n"
    e = html.escape
    paragraphs = [e(_greeting(name)), f"{e(since)} {e(ask)}"]
    if sender.page_url:
        paragraphs.append(f"Open your page: {_link(sender.page_url)}")
    paragraphs += [e(stop), f"&mdash; {e(who)}"]
    return _message(to_name=name, to_address=address, subject=subject, text=text,
                    html_body=_html(paragraphs), sender=sender)


# ----------------------------------------------------------------------------- who gets what
def nudge_plan(participation: pd.DataFrame, participants: pd.DataFrame, contacts: pd.DataFrame,
               messages: pd.DataFrame, *, today, quiet_days: int = QUIET_DAYS) -> pd.DataFrame:
    """Who a nudge would reach today, and why not for the others.

    Parameters
    ----------
    participation : DataFrame
        participant_id, name, last_check_in (NaT for never), as
        :meth:`CoachSession.participation` returns.
    participants : DataFrame
        participant_id, joined_on (a person who never checked in counts as quiet since then).
    contacts : DataFrame
        participant_id, email, opted_out (:meth:`Store.contacts`).
    messages : DataFrame
        participant_id, kind, day, outcome, at (:meth:`Store.messages`).
    today : date-like
    quiet_days : int
        Quiet means no check-in on the last ``quiet_days`` days: the last one was at least
        that many days before ``today``.

    Returns
    -------
    DataFrame
        One row per member, sorted by name then id: participant_id, name, last_check_in,
        days_quiet (days since the last check-in, or since joining for none; Int64),
        quiet (bool), has_email (bool), opted_out (bool), nudged_today (bool), last_nudged
        (UTC time of the latest nudge sent; NaT for none), will_get (bool: quiet, with an
        address, not opted out, not nudged today), reason (why not, in words; empty when
        ``will_get``).
    """
    if not isinstance(quiet_days, int) or isinstance(quiet_days, bool) or quiet_days < 1:
        raise MasteryError(f"--quiet-days {quiet_days!r}: expected a whole number of days, 1 or more")
    day = pd.Timestamp(as_day(today, what="today"))
    out = participation[["participant_id", "name", "last_check_in"]].copy()
    joined = participants.set_index("participant_id")["joined_on"] if len(participants) else pd.Series(dtype="datetime64[ns]")
    since = pd.to_datetime(out["last_check_in"]).fillna(pd.to_datetime(out["participant_id"].map(joined)))
    out["days_quiet"] = (day - since).dt.days.astype("Int64")
    out["quiet"] = (out["days_quiet"] >= quiet_days).fillna(False).astype(bool)
    book = contacts.set_index("participant_id") if len(contacts) else None
    if book is not None:
        out["has_email"] = out["participant_id"].map(book["email"]).notna().to_numpy()
        out["opted_out"] = out["participant_id"].map(book["opted_out"]).fillna(False).astype(bool).to_numpy()
    else:
        out["has_email"] = False
        out["opted_out"] = False
    sent = messages.loc[(messages["kind"] == "nudge") & messages["outcome"].isin(["sending", "sent"])] \
        if len(messages) else messages
    today_ids = set(sent.loc[pd.to_datetime(sent["day"]) == day, "participant_id"]) if len(sent) else set()
    out["nudged_today"] = out["participant_id"].isin(today_ids)
    last = sent.loc[sent["outcome"] == "sent"].groupby("participant_id")["at"].max() if len(sent) else None
    out["last_nudged"] = (out["participant_id"].map(last) if last is not None and len(last)
                          else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]"))
    out["last_nudged"] = pd.to_datetime(out["last_nudged"], utc=True)
    out["will_get"] = out["quiet"] & out["has_email"] & ~out["opted_out"] & ~out["nudged_today"]
    reason = pd.Series("", index=out.index, dtype=object)
    reason = reason.mask(out["nudged_today"], "nudged today already")
    reason = reason.mask(~out["has_email"], "no e-mail address")
    reason = reason.mask(out["opted_out"], "asked for no e-mail")
    reason = reason.mask(~out["quiet"], f"checked in within {quiet_days} days")
    out["reason"] = reason
    out = out.assign(_n=out["name"].fillna(out["participant_id"]).str.lower())
    return out.sort_values(["_n", "participant_id"]).drop(columns="_n").reset_index(drop=True)


def nudge_preview(store, *, cohort: str, quiet_days: int = QUIET_DAYS, today=None,
                  participation: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`nudge_plan` for a cohort from the store (``participation`` from a coach's
    session, which checks the coach's code first; else computed here)."""
    store.require_cohort(cohort)
    today = as_day(today, what="today") if today is not None else dt.datetime.now(dt.timezone.utc).date()
    if participation is None:
        # the command line's own view (it holds the store): no code to check
        participation = CoachSession(store, Identity("coach", None, None, cohort, None)).participation(
            week_ending=today)
    return nudge_plan(participation, store.participants(cohort=cohort)[["participant_id", "joined_on"]],
                      store.contacts(cohort=cohort), store.messages(cohort=cohort, kind="nudge"),
                      today=today, quiet_days=quiet_days)


def last_nudged(messages: pd.DataFrame) -> pd.DataFrame:
    """When each person was last nudged.

    Returns
    -------
    DataFrame
        participant_id, last_nudged (UTC time of the latest nudge with outcome ``sent``).
    """
    sent = messages.loc[(messages["kind"] == "nudge") & (messages["outcome"] == "sent")]
    return sent.groupby("participant_id", as_index=False)["at"].max().rename(columns={"at": "last_nudged"})


# ----------------------------------------------------------------------------- sending
def _result(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _addressed(store, cohort: str, participant: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members (one or all) joined to their contacts; raises when none has an address."""
    store.require_cohort(cohort)
    members = store.participants(cohort=cohort)[["participant_id", "name"]]
    if participant is not None:
        store.require_participant(participant)
        members = members.loc[members["participant_id"] == participant]
        if members.empty:
            raise MailError(f"participant '{participant}' is not in cohort '{cohort}'; nothing was sent")
    if members.empty:
        raise MailError(f"cohort '{cohort}' has no participants yet; nothing was sent")
    book = store.contacts(participant=members["participant_id"].tolist())
    people = members.merge(book[["participant_id", "email", "opted_out"]], on="participant_id", how="left")
    people["opted_out"] = people["opted_out"].fillna(False).astype(bool)
    if people["email"].isna().all():
        whom = f"participant '{participant}' has no" if participant else f"nobody in cohort '{cohort}' has an"
        raise MailError(f"{whom} e-mail address (`mastery participant email ID ADDRESS`, or an "
                        "email column in `mastery participant import`); nothing was sent")
    return people, members


def invite(store, *, cohort: str, outbox, sender: Sender, participant: str | None = None,
           again: bool = False, today=None) -> pd.DataFrame:
    """Mail each member of ``cohort`` (or one ``participant``) a new code and the page's address.

    Parameters
    ----------
    store : Store
    cohort : str
    outbox : SmtpOutbox or FolderOutbox
        Entered here (connects and logs in before any code is issued). A
        :class:`FolderOutbox` writes the messages with a placeholder code and changes
        nothing in the store.
    sender : Sender
        With ``page_url``.
    participant : str, optional
        Only this member.
    again : bool
        Also those already invited today (by default a second run the same day skips them).
    today : date-like, optional
        The day recorded (default: today, UTC).

    Returns
    -------
    DataFrame
        participant_id, name, email, outcome (``sent``, ``written`` for a dry run,
        ``refused``, ``no address``, ``opted out``, ``invited today``), detail (the server's
        reply for a refusal), one row per member considered.

    Raises
    ------
    MailError
        Unreachable server, refused login, no address in the cohort, no page address: then
        nothing was issued, sent or recorded. A server that stops answering half way raises
        too, after recording what was sent.
    """
    if not sender.page_url:
        raise MailError(f"an invitation needs the participant page's address: give --page-url URL "
                        f"(or set ${PAGE_URL_ENV}); nothing was sent")
    day = as_day(today, what="today") if today is not None else dt.datetime.now(dt.timezone.utc).date()
    people, _ = _addressed(store, cohort, participant)
    rows = []
    with outbox:
        for person in people.itertuples(index=False):
            name = person.name if isinstance(person.name, str) else None
            address = person.email if isinstance(person.email, str) else None
            row = {"participant_id": person.participant_id, "name": name, "email": address, "detail": None}
            if address is None:
                rows.append({**row, "outcome": "no address"})
                continue
            if person.opted_out:
                rows.append({**row, "outcome": "opted out"})
                continue
            if outbox.dry_run:
                outbox.send(compose_invite(name=name, address=address, code=PLACEHOLDER_CODE, cohort=cohort,
                                           sender=sender), label=f"{person.participant_id}-invite")
                rows.append({**row, "outcome": "written"})
                continue
            claim = store.claim_message(person.participant_id, kind="invite", day=day, cohort=cohort,
                                        again=again)
            if claim is None:
                rows.append({**row, "outcome": "opted out" if _opted_out(store, person.participant_id)
                             else "invited today"})
                continue
            code = None
            try:
                code = issue_code(store, person.participant_id, keep_previous=True)
                outbox.send(compose_invite(name=name, address=address, code=code, cohort=cohort, sender=sender),
                            label=person.participant_id)
            except Refused as exc:
                revoke_codes(store, person.participant_id, only=code)  # the code they had still works
                store.finish_message(claim, "refused", str(exc))
                rows.append({**row, "outcome": "refused", "detail": str(exc)})
                continue
            except BaseException as exc:
                if code is not None:
                    revoke_codes(store, person.participant_id, only=code)
                store.finish_message(claim, "failed")
                _stopped(exc, rows, "invitation")
                raise
            revoke_codes(store, person.participant_id, keep=code)  # the old code stops working now
            store.finish_message(claim, "sent")
            rows.append({**row, "outcome": "sent"})
    return _result(rows)


def _stopped(exc: BaseException, rows: list[dict], what: str) -> None:
    """A server that fails half way: the error says how many were sent (and recorded)."""
    if isinstance(exc, MailError):
        n = sum(r["outcome"] == "sent" for r in rows)
        raise MailError(f"{exc}; {n} {what}{'s' if n != 1 else ''} had been sent and are recorded: "
                        "run the command again to send the rest") from None


def _opted_out(store, participant_id) -> bool:
    book = store.contacts(participant=participant_id)
    return bool(len(book) and book["opted_out"].iloc[0])


def nudge(store, *, cohort: str, outbox, sender: Sender, quiet_days: int = QUIET_DAYS, today=None,
          participation: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mail a short reminder to each member quiet for ``quiet_days`` days who has an address,
    has not opted out and was not nudged today.

    Parameters
    ----------
    store : Store
    cohort : str
    outbox : SmtpOutbox or FolderOutbox
    sender : Sender
        ``page_url`` is optional here.
    quiet_days : int
    today : date-like, optional
        Default: today, UTC.
    participation : DataFrame, optional
        From a coach's session (the coach's page); else computed here.

    Returns
    -------
    DataFrame
        participant_id, name, email, outcome (``sent``, ``written``, ``refused``,
        ``nudged today``, ``opted out``), detail, one row per member the plan would mail.

    Raises
    ------
    MailError
        As for :func:`invite`; also when nobody in the cohort has an address.
    """
    day = as_day(today, what="today") if today is not None else dt.datetime.now(dt.timezone.utc).date()
    people, _ = _addressed(store, cohort, None)
    plan = nudge_preview(store, cohort=cohort, quiet_days=quiet_days, today=day, participation=participation)
    chosen = plan.loc[plan["will_get"]].merge(people[["participant_id", "email"]], on="participant_id")
    rows = []
    if chosen.empty:
        return _result(rows)
    with outbox:
        for person in chosen.itertuples(index=False):
            name = person.name if isinstance(person.name, str) else None
            row = {"participant_id": person.participant_id, "name": name, "email": person.email, "detail": None}
            days = None if pd.isna(person.last_check_in) else int(person.days_quiet)
            message = compose_nudge(name=name, address=person.email, days_quiet=days, sender=sender)
            if outbox.dry_run:
                outbox.send(message, label=f"{person.participant_id}-nudge")
                rows.append({**row, "outcome": "written"})
                continue
            claim = store.claim_message(person.participant_id, kind="nudge", day=day, cohort=cohort)
            if claim is None:
                rows.append({**row, "outcome": "opted out" if _opted_out(store, person.participant_id)
                             else "nudged today"})
                continue
            try:
                outbox.send(message, label=person.participant_id)
            except Refused as exc:
                store.finish_message(claim, "refused", str(exc))
                rows.append({**row, "outcome": "refused", "detail": str(exc)})
                continue
            except BaseException as exc:
                store.finish_message(claim, "failed")
                _stopped(exc, rows, "reminder")
                raise
            store.finish_message(claim, "sent")
            rows.append({**row, "outcome": "sent"})
    return _result(rows)


def describe(result: pd.DataFrame, *, kind: str, cohort: str, dry_run: bool = False,
             folder=None) -> list[str]:
    """What a run did, in lines for the coach: counts, and each refusal by name."""
    def count(outcome):
        return int((result["outcome"] == outcome).sum())

    what = "invitation" if kind == "invite" else "reminder"
    lines = []
    if dry_run:
        n = count("written")
        lines.append(f"wrote {n} {what}{'s' if n != 1 else ''} to {folder} (nothing was sent"
                     + (", no code was issued: the codes in them are placeholders" if kind == "invite" else "")
                     + ")")
    else:
        n = count("sent")
        lines.append(f"sent {n} {what}{'s' if n != 1 else ''} to cohort '{cohort}'"
                     + ("; each has a new code, and the codes these people had before no longer work"
                        if kind == "invite" and n else ""))
    for row in result.loc[result["outcome"] == "refused"].itertuples(index=False):
        who = row.name or row.participant_id
        keep = "; their earlier code still works" if kind == "invite" else ""
        lines.append(f"not delivered to {who} ({row.participant_id}, {row.email}): the server said "
                     f"{row.detail}{keep}")
    skipped = {o: count(o) for o in ("invited today", "nudged today", "opted out", "no address")}
    if any(skipped.values()):
        lines.append("not mailed: " + ", ".join(f"{n} {o}" for o, n in skipped.items() if n)
                     + (" (--again mails those invited today once more)" if skipped["invited today"] else ""))
    return lines
