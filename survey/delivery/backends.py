"""Mail backends: turning an outbox message into an e-mail and handing it over,
by SMTP (one connection per batch) or, offline, to files.

A backend raises TemporaryDeliveryError (try again later: 4xx, connection refused,
time-outs) or PermanentDeliveryError (5xx: the address bounces).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime as rfc2822_date
from email.utils import formataddr, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from survey.clock import utcnow
from survey.delivery.outbox import ERROR_LENGTH, OutgoingMail

log = logging.getLogger("survey.delivery.outbox")  # one name for the delivery log


class DeliveryError(Exception):
    """A message could not be delivered this time."""

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: The server could not be reached at all: the rest of the batch would fail too.
        self.connection = connection


class TemporaryDeliveryError(DeliveryError):
    """Try again later (4xx, connection refused, time-out)."""


class PermanentDeliveryError(DeliveryError):
    """The server refused the message for good (5xx): the address bounces."""


def build_email(mail: OutgoingMail, mail_from: str, *, date: datetime | None = None) -> Message:
    """A multipart/alternative e-mail (text, then HTML; UTF-8) with RFC 8058 one-click
    unsubscribe headers when the message has an opt-out link.

    Built with the email.mime classes: the newer EmailMessage API parses every header
    it is given, which cost more than the SMTP exchange itself (about 10 ms a message).
    """
    text = MIMEText(mail.body_text, "plain", "utf-8")
    if mail.body_html:
        message: Message = MIMEMultipart("alternative")
        message.attach(text)
        message.attach(MIMEText(mail.body_html, "html", "utf-8"))
    else:
        message = text
    name, address = parseaddr(mail_from)
    message["From"] = formataddr((name, address), charset="utf-8")
    message["To"] = mail.to_address
    message["Subject"] = (
        Header(mail.subject, "utf-8") if not mail.subject.isascii() else mail.subject
    )
    message["Message-ID"] = mail.message_id
    message["Date"] = rfc2822_date(date or utcnow())
    message["Content-Language"] = "zh-CN" if mail.locale == "zh" else mail.locale
    # Out-of-office replies should not answer a survey invitation.
    message["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


class MailBackend(Protocol):
    """Sends e-mails; used as a context manager around a batch."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def send(self, message: Message) -> None:
        """Deliver one message or raise TemporaryDeliveryError / PermanentDeliveryError."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        """SMTP_HOST/PORT/USER/PASSWORD/STARTTLS; None when no SMTP_HOST is set."""
        host = str(config.get("SMTP_HOST") or "").strip()
        if not host:
            return None
        return cls(
            host=host,
            port=int(config.get("SMTP_PORT") or 25),
            user=str(config.get("SMTP_USER") or ""),
            password=str(config.get("SMTP_PASSWORD") or ""),
            starttls=bool(config.get("SMTP_STARTTLS")),
            timeout=float(config.get("SMTP_TIMEOUT") or 30.0),
        )


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {detail}".strip()[:ERROR_LENGTH]


class SmtpBackend:
    """Delivers over SMTP with one connection per batch (opened on first use)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        s = self.settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            # Our configuration is wrong, not the address: retry until someone fixes it.
            raise TemporaryDeliveryError(
                "SMTP login refused: " + _reply(exc.smtp_code, exc.smtp_error), connection=True
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryDeliveryError(
                f"cannot reach SMTP server {s.host}:{s.port}: {exc}"[:ERROR_LENGTH],
                connection=True,
            ) from exc
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def send(self, message: Message) -> None:
        smtp = self._connect()
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            failure = PermanentDeliveryError if code >= 500 else TemporaryDeliveryError
            raise failure(_reply(code, text)) from exc
        except smtplib.SMTPSenderRefused as exc:
            # MAIL_FROM refused: a configuration problem, never the recipient's bounce.
            raise TemporaryDeliveryError(
                "sender refused: " + _reply(exc.smtp_code, exc.smtp_error)
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TemporaryDeliveryError(
                f"SMTP server disconnected: {exc}", connection=True
            ) from exc
        except smtplib.SMTPResponseException as exc:
            failure = PermanentDeliveryError if exc.smtp_code >= 500 else TemporaryDeliveryError
            raise failure(_reply(exc.smtp_code, exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:  # time-outs, resets
            self._drop()
            raise TemporaryDeliveryError(
                f"SMTP error: {exc}"[:ERROR_LENGTH], connection=True
            ) from exc
        if refused:  # only with several recipients; we send to one
            code, text = next(iter(refused.values()))
            raise PermanentDeliveryError(_reply(code, text))


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@-]")


class FileBackend:
    """For running offline: each message goes to the log and to `<dir>/<id>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def path_for(self, message_id: str) -> Path:
        return self.directory / (_UNSAFE_FILENAME.sub("_", message_id.strip("<>")) + ".eml")

    def send(self, message: Message) -> None:
        path = self.path_for(str(message["Message-ID"]))
        path.write_bytes(message.as_bytes())
        log.info("e-mail to %s %r written to %s", message["To"], message["Subject"], path)


def backend_from_config(config: Mapping[str, Any], instance_path: str | Path) -> MailBackend:
    """SMTP when SMTP_HOST is set, else files under instance/outbox/."""
    smtp = SmtpSettings.from_config(config)
    if smtp is None:
        return FileBackend(Path(instance_path) / "outbox")
    return SmtpBackend(smtp)


__all__ = [
    "DeliveryError",
    "FileBackend",
    "MailBackend",
    "PermanentDeliveryError",
    "SmtpBackend",
    "SmtpSettings",
    "TemporaryDeliveryError",
    "backend_from_config",
    "build_email",
]
