"""What registering a user and creating an administrator share: opening an account."""

from application.common.ports.clock import Clock
from application.common.ports.ids import IdGenerator
from application.users.errors import EmailTakenError, UsernameTakenError
from application.users.ports import PasswordHasher, UserRepository
from domain.users.user import User
from domain.users.values import Email, Password, Role, UserId, Username


async def open_account(
    *,
    username: str,
    email: str,
    password: str,
    users: UserRepository,
    hasher: PasswordHasher,
    clock: Clock,
    ids: IdGenerator,
    role: Role = Role.USER,
) -> User:
    """Validate, check that the username and email are free, hash, and store a new user.

    Runs in the caller's unit of work; the first invalid field is named, and the plain
    password is never kept.
    """
    valid_username = Username(username)
    valid_email = Email.parse_deliverable(email)
    valid_password = Password.parse(password)
    if await users.username_taken(valid_username):
        raise UsernameTakenError
    if await users.get_by_email(valid_email) is not None:
        raise EmailTakenError
    user = User.register(
        id=UserId(ids.new_id()),
        username=valid_username,
        email=valid_email,
        password_hash=await hasher.hash(valid_password),
        now=clock.now(),
    )
    user.assign_role(role, now=user.created_at)
    await users.add(user)
    return user
