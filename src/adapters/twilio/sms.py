"""SMS through a Twilio-compatible Messages API, with httpx."""

import contextlib

import httpx

from adapters.opentelemetry.http_client import traced_transport
from application.notifications.ports import SmsMessage, SmsSender


class SmsDeliveryError(Exception):
    """The gateway refused the message or could not be reached; the job retries."""


class TwilioSmsSender(SmsSender):
    """The `SmsSender` port on Twilio's Messages API, or any API that speaks it.

    ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with a form of
    ``To``, ``From`` and ``Body``, authenticated with HTTP Basic (account SID and auth
    token). Any answer but 2xx, a timeout or a network error raises `SmsDeliveryError`
    naming the gateway's status and error code, never the credentials. While the process
    traces, each post gets a span naming the gateway's host only.
    """

    def __init__(
        self,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._sender = sender
        self._timeout = httpx.Timeout(timeout_seconds)

    async def send(self, message: SmsMessage) -> None:
        """Post the message; return once the gateway accepted it."""
        form = {"To": message.to, "From": self._sender, "Body": message.body}
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=traced_transport()
            ) as client:
                response = await client.post(self._url, data=form, auth=self._auth)
        except httpx.HTTPError as exc:
            raise SmsDeliveryError(f"sms gateway unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            code = ""
            with contextlib.suppress(ValueError):
                body = response.json()
                if isinstance(body, dict) and "code" in body:
                    code = f", code {body['code']}"
            raise SmsDeliveryError(f"sms gateway answered {response.status_code}{code}")
