"""The MIME form of an email, the same whichever way it leaves."""

from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid

from application.notifications.ports import EmailMessage


def mime_message(message: EmailMessage, *, sender: str, domain: str) -> MimeMessage:
    """A multipart/alternative message: the text part first, then the HTML part."""
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False)
    mime["Message-ID"] = make_msgid(domain=domain)
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime
