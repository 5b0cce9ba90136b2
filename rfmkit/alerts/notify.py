"""Notifiers: one `send` for the churn-alert messages, whatever carries them.

- `MailSink`: a real SMTP server (aiosmtpd) on 127.0.0.1 that stores every message it receives
  as an .eml file in the run folder, so a workshop user can open what was sent.
- `SmtpNotifier`: sends multipart (text + HTML) mail to an SMTP server (the sink, or a real one).
- `SnsNotifier`: publishes to an SNS topic (AWS backend); subscribers filter on the "list"
  message attribute. SNS e-mail is plain text, so the text part is what is published.
"""

from __future__ import annotations

import smtplib
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

SNS_SUBJECT_MAX = 99             # ASCII characters: SNS wants fewer than 100, no line breaks
SNS_MESSAGE_MAX = 256 * 1024     # bytes, the whole message


class NotifyError(RuntimeError):
    """A message could not be sent; the message says where and why."""


@dataclass
class Message:
    list_name: str
    recipients: list[str]
    subject: str
    text: str
    html: str


class MailSink:
    """An SMTP server on 127.0.0.1 (a free port unless given) that writes each message it
    receives to `folder` as <n>-<list>.eml. Use as a context manager or call stop()."""

    def __init__(self, folder: Path, port: int = 0):
        from aiosmtpd.controller import Controller

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self._controller = Controller(_StoreHandler(self.folder), hostname="127.0.0.1",
                                      port=self.port)
        self._controller.start()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def messages(self) -> list[Path]:
        return sorted(self.folder.glob("*.eml"))

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _StoreHandler:
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        number = len(list(self.folder.glob("*.eml"))) + 1
        path = self.folder / f"{number:04d}-{int(time.time())}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpNotifier:
    """Multipart mail (text and HTML) through an SMTP server; `sink` is stopped on close()."""

    channel = "smtp"

    def __init__(self, host: str, port: int, *, sender: str = "rfmkit-alerts@localhost",
                 sink: MailSink | None = None):
        self.host, self.port, self.sender, self.sink = host, port, sender, sink

    def describe(self) -> str:
        where = f"the local mail sink {self.host}:{self.port}, stored in {self.sink.folder}" \
            if self.sink else f"SMTP server {self.host}:{self.port}"
        return f"e-mail through {where}"

    def send(self, message: Message) -> str:
        mail = EmailMessage()
        mail["From"], mail["To"] = self.sender, ", ".join(message.recipients)
        mail["Subject"] = message.subject
        mail["Message-ID"] = message_id = make_msgid(domain="rfmkit.local")
        mail["X-Rfmkit-List"] = message.list_name
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"sending {message.list_name!r} to {self.host}:{self.port} "
                              f"failed: {exc}") from exc
        return message_id

    def close(self) -> None:
        if self.sink is not None:
            self.sink.stop()


class SnsNotifier:
    """Publishes each message's text to one SNS topic, with the list name as an attribute."""

    channel = "sns"

    def __init__(self, client, topic_arn: str):
        if not topic_arn:
            raise NotifyError("no SNS topic: set alerts_topic_arn (the stack output "
                              "AlertsTopicArn; `kit.provision()` reads it)")
        self.client, self.topic_arn = client, topic_arn

    def describe(self) -> str:
        return f"SNS topic {self.topic_arn}"

    def send(self, message: Message) -> str:
        subject = " ".join(message.subject.split()).encode("ascii", "replace").decode()
        if len(subject) > SNS_SUBJECT_MAX:
            subject = subject[:SNS_SUBJECT_MAX - 3] + "..."
        text = message.text
        if len(text.encode()) > SNS_MESSAGE_MAX - 1024:  # room for the attributes
            raise NotifyError(f"list {message.list_name!r}: {len(text.encode()):,} bytes is over "
                              f"SNS's 256 KB; lower max_per_message")
        answer = self.client.publish(
            TopicArn=self.topic_arn, Subject=subject, Message=text,
            MessageAttributes={"list": {"DataType": "String", "StringValue": message.list_name}})
        return answer["MessageId"]

    def close(self) -> None:
        pass
