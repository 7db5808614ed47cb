"""A real SMTP server for the mail tests: aiosmtpd in this process, on 127.0.0.1, on a free port.

The handler keeps every message and counts connections (one EHLO each), and can be told to answer 451 or 550
for chosen recipients, or to drop the connection when a given message starts: the failures the sender must
handle, produced by a real server over a real socket.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from schoolgate.mail import render


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    logins: list[str] = field(default_factory=list)
    temporary: set[str] = field(default_factory=set)  # RCPT answered 451
    permanent: set[str] = field(default_factory=set)  # RCPT answered 550
    drop_at_mail: set[int] = field(default_factory=set)  # close the connection on the Nth MAIL FROM
    mails: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if self.mails in self.drop_at_mail:
            server.transport.close()
            return "421 4.3.2 going away"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.permanent:
            return f"550 5.1.1 <{address}>: no such user here"
        if address in self.temporary:
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


class LoopbackController(Controller):
    """Controller on port 0: the operating system picks a free port, read back once the server is bound
    (aiosmtpd's own start-up check would otherwise try to connect to port 0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def mailserver(settings):
    handler = RecordingHandler()
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    handler.port = controller.port
    settings.SCHOOLGATE_SMTP_URL = f"smtp://127.0.0.1:{controller.port}?timeout=5"
    settings.SCHOOLGATE_MAIL_FROM = "Schoolgate <no-reply@schools.example>"
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def fresh_render_cache():
    # Ids are reused after a rolled-back test on SQLite: start every test with nothing compiled.
    render.clear_cache()
    yield
    render.clear_cache()
