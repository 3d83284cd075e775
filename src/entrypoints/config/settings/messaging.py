"""What reaches people: email, SMS, Web Push, and the notifications sent through them."""

from typing import Annotated, Literal

from entrypoints.config.settings.section import Port, Section, from_env


class MailSettings(Section, frozen=True, kw_only=True):
    """The SMTP relay for outgoing mail."""

    smtp_host: Annotated[
        str | None, from_env("SMTP_HOST", "SMTP relay host; when set, /health/ready probes it.")
    ] = None
    smtp_port: Annotated[Port, from_env("SMTP_PORT", "SMTP relay port.")] = 587
    sender: Annotated[str, from_env("MAIL_FROM", "The From address of every email.")] = (
        "Portico <no-reply@portico.local>"
    )
    file_dir: Annotated[
        str | None,
        from_env("MAIL_FILE_DIR", "Where emails are written as .eml files; default DATA_DIR/mail."),
    ] = None
    smtp_tls: Annotated[
        Literal["none", "starttls", "tls"] | None,
        from_env(
            "SMTP_TLS",
            "`none`, `starttls` or `tls` (implicit); unset: `none` for a loopback host, "
            "else `starttls`.",
        ),
    ] = None
    smtp_username: Annotated[
        str | None, from_env("SMTP_USERNAME", "SMTP AUTH user; set with SMTP_PASSWORD.")
    ] = None
    smtp_password: Annotated[
        str | None,
        from_env("SMTP_PASSWORD", "SMTP AUTH password; set with SMTP_USERNAME.", secret=True),
    ] = None
    smtp_timeout_seconds: Annotated[
        float, from_env("SMTP_TIMEOUT_SECONDS", "Give up on the relay after this.", gt=0, le=300)
    ] = 10.0


class SmsSettings(Section, frozen=True, kw_only=True):
    """The SMS gateway: a Twilio-compatible Messages API."""

    base_url: Annotated[
        str | None,
        from_env("SMS_BASE_URL", "Gateway root, such as https://api.twilio.com; unset: no SMS."),
    ] = None
    account_sid: Annotated[
        str | None, from_env("SMS_ACCOUNT_SID", "The account the messages are billed to.")
    ] = None
    auth_token: Annotated[
        str | None, from_env("SMS_AUTH_TOKEN", "The account's secret.", secret=True)
    ] = None
    sender: Annotated[
        str | None, from_env("SMS_FROM", "The number (E.164) messages come from.")
    ] = None


class PushSettings(Section, frozen=True, kw_only=True):
    """Web Push with VAPID: the server's key pair, and which endpoints are accepted."""

    vapid_private_key: Annotated[
        str | None,
        from_env(
            "PUSH_VAPID_PRIVATE_KEY",
            "Base64url P-256 private key (`portico push keys` makes one); unset: no push.",
            secret=True,
        ),
    ] = None
    vapid_subject: Annotated[
        str,
        from_env(
            "PUSH_VAPID_SUBJECT",
            "How push services reach the operator: a mailto: or https: URL.",
            pattern=r"^(mailto:|https://).+",
        ),
    ] = "mailto:ops@portico.local"
    timeout_seconds: Annotated[
        float, from_env("PUSH_TIMEOUT_SECONDS", "Give up on a push service after this.", gt=0)
    ] = 10.0
    allowed_hosts: Annotated[
        str,
        from_env(
            "PUSH_ALLOWED_HOSTS",
            "Comma-separated hosts of the push services endpoints may point at; "
            "`*.example.com` admits every name below example.com. The default: FCM (Chrome "
            "and most Chromium browsers), Firefox, Safari, Edge.",
        ),
    ] = (
        "fcm.googleapis.com, updates.push.services.mozilla.com, "
        "*.push.apple.com, *.notify.windows.com"
    )
    resolve_timeout_seconds: Annotated[
        float,
        from_env(
            "PUSH_RESOLVE_TIMEOUT_SECONDS",
            "Give up resolving a new endpoint's host after this; the subscription gets 422.",
            gt=0,
            le=30,
        ),
    ] = 2.0
    allow_local_endpoints: Annotated[
        bool,
        from_env(
            "PUSH_ALLOW_LOCAL_ENDPOINTS",
            "Accept http, IP-literal, private and unlisted endpoints, and push to private "
            "addresses (local testing only; refused when APP_ENV=production).",
        ),
    ] = False
    max_subscriptions_per_user: Annotated[
        int,
        from_env("PUSH_MAX_SUBSCRIPTIONS_PER_USER", "Browsers one account may subscribe.", ge=1),
    ] = 20


class NotificationSettings(Section, frozen=True, kw_only=True):
    """Fan-out of notifications, phone verification, and the realtime channel."""

    fan_out_batch_size: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_FAN_OUT_BATCH_SIZE",
            "Followers notified per transaction (and per job) when an author publishes.",
            ge=1,
            le=10_000,
        ),
    ] = 500
    retention_days: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_RETENTION_DAYS",
            "Notifications older than this are deleted by `portico scheduler`'s purge.",
            ge=1,
        ),
    ] = 180
    delivery_stale_seconds: Annotated[
        float,
        from_env(
            "NOTIFICATIONS_DELIVERY_STALE_SECONDS",
            "A delivery pending this long lost its job and is enqueued again; a job retries "
            "recording a sent message for half of it.",
            gt=0,
        ),
    ] = 120.0
    delivery_sweep_interval_seconds: Annotated[
        float,
        from_env(
            "NOTIFICATIONS_DELIVERY_SWEEP_SECONDS",
            "How often the relaying process looks for such deliveries.",
            gt=0,
        ),
    ] = 30.0
    phone_code_ttl_seconds: Annotated[
        int, from_env("PHONE_CODE_TTL_SECONDS", "How long an SMS verification code lives.", ge=60)
    ] = 600
    phone_codes_per_window: Annotated[
        int, from_env("RATE_LIMIT_PHONE_CODES", "SMS codes one user may request per window.", ge=1)
    ] = 5
    phone_codes_window_seconds: Annotated[
        int, from_env("RATE_LIMIT_PHONE_CODES_WINDOW_SECONDS", "That window.", ge=1)
    ] = 3_600
    phone_codes_per_client: Annotated[
        int,
        from_env(
            "RATE_LIMIT_PHONE_CODES_PER_IP",
            "SMS codes one client IP may request per that window, whichever accounts ask.",
            ge=1,
        ),
    ] = 10
    phone_codes_budget_per_hour: Annotated[
        int,
        from_env(
            "SMS_CODES_BUDGET_PER_HOUR",
            "SMS codes sent per hour across all users; beyond it, 503 and one log line.",
            ge=1,
        ),
    ] = 500
    phone_calling_codes: Annotated[
        str,
        from_env(
            "SMS_ALLOWED_CALLING_CODES",
            "Comma-separated calling codes (`1,44,49`) numbers may have; empty: all.",
            pattern=r"^\s*([1-9][0-9]{0,2}\s*(,\s*[1-9][0-9]{0,2}\s*)*)?$",
        ),
    ] = ""
    emails_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "MAIL_CAP_PER_RECIPIENT",
            "Emails (notifications, verification and reset links) one address gets per hour.",
            ge=1,
        ),
    ] = 20
    security_emails_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "MAIL_CAP_SECURITY_PER_RECIPIENT",
            "Security notices one address gets per hour (counted apart, so never crowded out).",
            ge=1,
        ),
    ] = 50
    sms_per_recipient_per_hour: Annotated[
        int,
        from_env("SMS_CAP_PER_RECIPIENT", "Notification SMS one number gets per hour.", ge=1),
    ] = 5
    security_sms_per_recipient_per_hour: Annotated[
        int,
        from_env(
            "SMS_CAP_SECURITY_PER_RECIPIENT",
            "Security notification SMS one number gets per hour (counted apart).",
            ge=1,
        ),
    ] = 10
    new_follower_window_seconds: Annotated[
        int,
        from_env(
            "NOTIFICATIONS_NEW_FOLLOWER_WINDOW_SECONDS",
            "One new_follower notification per follower and followee within this.",
            ge=0,
        ),
    ] = 86_400
    templates_dir: Annotated[
        str | None,
        from_env(
            "TEMPLATES_DIR",
            "A directory of templates that win over the packaged ones (same file names).",
        ),
    ] = None
    realtime_channel_prefix: Annotated[
        str,
        from_env("REALTIME_CHANNEL_PREFIX", "Redis pub/sub channels are named this plus the room."),
    ] = "portico:rt:"
