"""A mailer that keeps what it was given, for tests to read."""

from application.notifications.ports import EmailMessage, Mailer


class InMemoryMailer(Mailer):
    """The `Mailer` port into a list."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        """Keep the message."""
        self.sent.append(message)

    def last_to(self, address: str) -> EmailMessage:
        """The newest message to `address`; raises LookupError if there is none."""
        for message in reversed(self.sent):
            if message.to == address:
                return message
        raise LookupError(address)
