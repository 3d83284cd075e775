"""Use case: open a new account."""

from dataclasses import dataclass, field

from application.audit.capture import audited
from application.common.ports.unit_of_work import UnitOfWork
from application.users.account_opener import AccountOpener
from application.users.authenticated_user import SignedIn
from application.users.one_time_tokens import OneTimeTokenMailer
from application.users.session_opener import SessionOpener
from application.users.session_policy import ClientInfo
from domain.users.one_time_token import TokenPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterUserCommand:
    """The new account's username, email and password, as typed."""

    username: str
    email: str
    password: str = field(repr=False)
    client: ClientInfo = field(default_factory=ClientInfo)


@audited("user.register", target="user")
class RegisterUser:
    """Register a user and sign them in.

    Rules:
    - The username, email and password must each be valid; the first invalid one is named.
    - The username must be free, ignoring case (`UsernameTakenError`); the email must be
      free after normalizing (`EmailTakenError`).
    - The password is hashed before anything is stored; the plain text is never kept.
    - The new account has the `user` role; `UserRegistered` is written with it.
    - A verification link is mailed once the account is committed.
    - The new user is signed in: a session is opened, as at login, and the client gets a
      device token for the account, so it is a known device at its next sign-in.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        account_opener: AccountOpener,
        token_mailer: OneTimeTokenMailer,
        session_opener: SessionOpener,
    ) -> None:
        self._uow = uow
        self._account_opener = account_opener
        self._token_mailer = token_mailer
        self._session_opener = session_opener

    async def __call__(self, command: RegisterUserCommand) -> SignedIn:
        """Create the account and return it with access, refresh and device tokens."""
        async with self._uow:
            user = await self._account_opener.open(
                username=command.username, email=command.email, password=command.password
            )
            verification = await self._token_mailer.issue(user, TokenPurpose.VERIFY_EMAIL)
            opened = await self._session_opener.open(user, command.client)
            self._uow.track(user)
            await self._uow.commit()
        await self._token_mailer.send(verification)
        return self._session_opener.hand_over(user, opened, account=str(user.email))
