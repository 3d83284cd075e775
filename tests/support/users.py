"""The users use cases wired on in-memory adapters, for fast tests of the core."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.inprocess.cache import InProcessCache
from adapters.inprocess.rate_limiter import InProcessRateLimiter
from adapters.inprocess.realtime import InProcessRealtimeBroadcaster
from adapters.inprocess.task_queue import InProcessTaskQueue
from adapters.memory.database import InMemoryDatabase
from adapters.memory.device_trust import InMemoryDeviceTrust
from adapters.memory.mailer import InMemoryMailer
from adapters.memory.metrics import InMemoryMetrics
from adapters.memory.one_time_tokens import InMemoryOneTimeTokenRepository
from adapters.memory.profiles import InMemoryProfileReader
from adapters.memory.security import (
    InMemoryPasswordHasher,
    InMemoryTokenIssuer,
    SequentialOpaqueTokens,
)
from adapters.memory.sessions import InMemorySessionRepository
from adapters.memory.system import ManualClock, SequentialIdGenerator
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.memory.users import InMemoryUserRepository
from adapters.templates.jinja import JinjaTemplateRenderer
from application.articles.read_cache import ContentReadCache
from application.common.identity import Identity
from application.common.ports.rate_limits import RateLimit, RateLimiter
from application.notifications.recipient_caps import MessageCaps, RecipientCaps
from application.notifications.send_templated_email import (
    SEND_TEMPLATED_EMAIL,
    SendTemplatedEmail,
    SendTemplatedEmailCommand,
)
from application.profiles.follow_user import FollowUser
from application.profiles.get_profile import GetProfile
from application.profiles.unfollow_user import UnfollowUser
from application.users.account_opener import AccountOpener
from application.users.account_recovery import AccountRecovery
from application.users.authenticated_user import AuthenticatedUser
from application.users.check_link_token import CheckLinkToken
from application.users.confirm_password_reset import ConfirmPasswordReset
from application.users.get_current_user import GetCurrentUser
from application.users.issue_password_reset import (
    ISSUE_PASSWORD_RESET,
    IssuePasswordReset,
    IssuePasswordResetCommand,
)
from application.users.list_sessions import ListSessions
from application.users.live_sessions import LiveSessionCloser
from application.users.log_in import LogIn, LoginThrottle
from application.users.log_out import LogOut
from application.users.log_out_all import LogOutAll
from application.users.one_time_tokens import OneTimeTokenMailer, OneTimeTokenPolicy
from application.users.refresh_session import RefreshSession
from application.users.register_user import RegisterUser, RegisterUserCommand
from application.users.request_password_reset import RequestPasswordReset, ResetThrottle
from application.users.resend_verification import ResendVerification, ResendVerificationPolicy
from application.users.restore_email import RestoreEmail
from application.users.revoke_session import RevokeSession
from application.users.security_notices import SecurityNotices
from application.users.session_opener import SessionOpener
from application.users.session_policy import SessionPolicy
from application.users.step_up import StepUpPolicy
from application.users.update_user import UpdateUser
from application.users.verify_email import VerifyEmail
from domain.users.user import User
from domain.users.values import Email, UserId, Username


@dataclass
class UsersWorld:
    """Every identity use case, sharing one in-memory database, clock and id source."""

    clock: ManualClock = field(default_factory=ManualClock)
    ids: SequentialIdGenerator = field(default_factory=SequentialIdGenerator)
    database: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    hasher: InMemoryPasswordHasher = field(default_factory=InMemoryPasswordHasher)

    def __post_init__(self) -> None:
        self.tokens = InMemoryTokenIssuer(clock=self.clock, ids=self.ids, ttl=timedelta(minutes=15))
        self.users = InMemoryUserRepository(self.database)
        self.cache = InProcessCache()
        self.read_cache = ContentReadCache(self.cache)
        self.profiles = InMemoryProfileReader(self.database)
        self.limiter: RateLimiter = InProcessRateLimiter(self.clock)
        self.metrics = InMemoryMetrics()
        self.sessions = InMemorySessionRepository(self.database)
        self.broadcaster = InProcessRealtimeBroadcaster()
        self.live_sessions = LiveSessionCloser(self.broadcaster)
        self.secrets = SequentialOpaqueTokens()
        self.session_policy = SessionPolicy(
            refresh_ttl=timedelta(days=30),
            max_lifetime=timedelta(days=90),
            reuse_grace=timedelta(seconds=5),
        )
        self.one_time_tokens = InMemoryOneTimeTokenRepository(self.database)
        self.mailer = InMemoryMailer()
        self.queue = InProcessTaskQueue(self._run_job, first_delay_seconds=0.01)
        self.token_policy = OneTimeTokenPolicy(
            verification_ttl=timedelta(hours=48),
            reset_ttl=timedelta(hours=1),
            restore_ttl=timedelta(days=7),
            public_url="https://portico.test",
        )
        self.reset_throttle = ResetThrottle(per_account=RateLimit(limit=5, window_seconds=3600))
        self.resend_policy = ResendVerificationPolicy(
            per_account=RateLimit(limit=3, window_seconds=3600)
        )
        self.message_caps = MessageCaps(
            email=RateLimit(limit=100, window_seconds=3600),
            security_email=RateLimit(limit=200, window_seconds=3600),
            sms=RateLimit(limit=100, window_seconds=3600),
            security_sms=RateLimit(limit=200, window_seconds=3600),
        )
        self.throttle = LoginThrottle(
            per_client=RateLimit(limit=10, window_seconds=900),
            untrusted=RateLimit(limit=100, window_seconds=3600),
            fail_open=False,
        )
        self.notices = SecurityNotices(self.queue)
        self.step_up = StepUpPolicy(
            window=timedelta(minutes=10), failures=RateLimit(limit=10, window_seconds=900)
        )
        self.devices = InMemoryDeviceTrust(clock=self.clock, ttl=timedelta(days=365))

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.database, self.ids)

    def register_user(self) -> RegisterUser:
        return RegisterUser(
            uow=self.uow(),
            account_opener=self.account_opener(),
            token_mailer=self.token_mailer(),
            session_opener=self.session_opener(),
        )

    def account_opener(self) -> AccountOpener:
        return AccountOpener(users=self.users, hasher=self.hasher, clock=self.clock, ids=self.ids)

    def session_opener(self) -> SessionOpener:
        return SessionOpener(
            sessions=self.sessions,
            secrets=self.secrets,
            tokens=self.tokens,
            devices=self.devices,
            policy=self.session_policy,
            clock=self.clock,
            ids=self.ids,
        )

    def token_mailer(self) -> OneTimeTokenMailer:
        return OneTimeTokenMailer(
            tokens=self.one_time_tokens,
            secrets=self.secrets,
            queue=self.queue,
            policy=self.token_policy,
            clock=self.clock,
        )

    def verify_email(self) -> VerifyEmail:
        return VerifyEmail(
            uow=self.uow(),
            users=self.users,
            tokens=self.one_time_tokens,
            secrets=self.secrets,
            clock=self.clock,
        )

    def check_link_token(self) -> CheckLinkToken:
        return CheckLinkToken(
            users=self.users, tokens=self.one_time_tokens, secrets=self.secrets, clock=self.clock
        )

    def request_password_reset(self) -> RequestPasswordReset:
        return RequestPasswordReset(
            uow=self.uow(), queue=self.queue, limiter=self.limiter, throttle=self.reset_throttle
        )

    def issue_password_reset(self) -> IssuePasswordReset:
        return IssuePasswordReset(
            uow=self.uow(),
            users=self.users,
            token_mailer=self.token_mailer(),
        )

    def account_recovery(self) -> AccountRecovery:
        return AccountRecovery(
            users=self.users,
            sessions=self.sessions,
            tokens=self.one_time_tokens,
            secrets=self.secrets,
            live_sessions=self.live_sessions,
        )

    def confirm_password_reset(self) -> ConfirmPasswordReset:
        return ConfirmPasswordReset(
            uow=self.uow(),
            recovery=self.account_recovery(),
            hasher=self.hasher,
            notices=self.notices,
            clock=self.clock,
        )

    def restore_email(self) -> RestoreEmail:
        return RestoreEmail(
            uow=self.uow(),
            users=self.users,
            recovery=self.account_recovery(),
            hasher=self.hasher,
            clock=self.clock,
        )

    async def _run_job(self, task: str, payload: Mapping[str, str]) -> None:
        if task == ISSUE_PASSWORD_RESET:
            await self.issue_password_reset()(IssuePasswordResetCommand(email=payload["email"]))
            return
        assert task == SEND_TEMPLATED_EMAIL
        caps = RecipientCaps(self.limiter, self.message_caps)
        await SendTemplatedEmail(JinjaTemplateRenderer(), self.mailer, caps)(
            SendTemplatedEmailCommand.from_payload(payload)
        )

    async def mailed_token(self, address: str) -> str:
        """Run the queued jobs, then read the token from the newest email to `address`."""
        await self.queue.drain()
        text = self.mailer.last_to(address).text
        return text.split("?token=", 1)[1].split()[0]

    def log_in(self) -> LogIn:
        return LogIn(
            uow=self.uow(),
            users=self.users,
            hasher=self.hasher,
            limiter=self.limiter,
            throttle=self.throttle,
            devices=self.devices,
            session_opener=self.session_opener(),
            metrics=self.metrics,
        )

    def refresh_session(self) -> RefreshSession:
        return RefreshSession(
            uow=self.uow(),
            users=self.users,
            sessions=self.sessions,
            secrets=self.secrets,
            tokens=self.tokens,
            policy=self.session_policy,
            clock=self.clock,
        )

    def log_out(self) -> LogOut:
        return LogOut(self.uow(), self.sessions, self.clock, self.live_sessions)

    def log_out_all(self) -> LogOutAll:
        return LogOutAll(
            self.uow(), self.sessions, self.clock, self.live_sessions, self.one_time_tokens
        )

    def list_sessions(self) -> ListSessions:
        return ListSessions(self.sessions, self.clock)

    def revoke_session(self) -> RevokeSession:
        return RevokeSession(self.uow(), self.sessions, self.clock, self.live_sessions)

    def get_current_user(self) -> GetCurrentUser:
        return GetCurrentUser(self.users)

    def update_user(self) -> UpdateUser:
        return UpdateUser(
            uow=self.uow(),
            users=self.users,
            hasher=self.hasher,
            clock=self.clock,
            sessions=self.sessions,
            one_time_tokens=self.one_time_tokens,
            token_mailer=self.token_mailer(),
            notices=self.notices,
            live_sessions=self.live_sessions,
            step_up=self.step_up,
            limiter=self.limiter,
            read_cache=self.read_cache,
        )

    def resend_verification(self) -> ResendVerification:
        return ResendVerification(
            uow=self.uow(),
            users=self.users,
            token_mailer=self.token_mailer(),
            limiter=self.limiter,
            policy=self.resend_policy,
        )

    def get_profile(self) -> GetProfile:
        return GetProfile(self.profiles)

    def follow_user(self) -> FollowUser:
        return FollowUser(self.uow(), self.users, self.clock)

    def unfollow_user(self) -> UnfollowUser:
        return UnfollowUser(self.uow(), self.users, self.clock)

    async def register(self, name: str, password: str = "password123") -> AuthenticatedUser:
        return await self.register_user()(
            RegisterUserCommand(username=name, email=f"{name}@test.com", password=password)
        )

    def identity_of(self, result: AuthenticatedUser) -> Identity:
        claims = self.tokens.read_access_token(result.token)
        return Identity(user_id=claims.user_id, role=claims.role, session_id=claims.session_id)

    def event_types(self) -> list[str]:
        return [message.event_type for message in self.database.outbox]


def stored_user(user_id: UserId, name: str, *, now: datetime) -> User:
    """An account `name` at ``<name>@t.co`` with a placeholder hash, for tests of storage."""
    return User.register(
        id=user_id,
        username=Username(name),
        email=Email.parse(f"{name}@t.co"),
        password_hash="h",
        now=now,
    )
