"""What the audit log captures of real use cases, on the in-memory adapters (issue 14).

A success is written with its change in the same commit, carrying who, from where and
which request; a rollback leaves nothing; a refusal is written although its transaction
rolled back, once; nested use cases get their entries at the outer commit; secrets are
redacted; nothing is written with audit off or for bad input; and the chain holds.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.memory.audit import InMemoryAuditLog
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.articles.errors import ArticleNotFoundError, NotArticleAuthorError
from application.articles.favorite_relation import FavoriteCommand
from application.articles.ports import ArticleRepository
from application.articles.update_article import UpdateArticleCommand
from application.audit.capture import audited
from application.audit.context import ClientContext, acting_as, current_client
from application.common.correlation import current_request_id
from application.common.errors import (
    AuthenticationRequiredError,
    ConcealedDenialError,
    ConflictError,
    InvalidCredentialsError,
    InvalidInputError,
    NotFoundError,
)
from application.common.identity import Identity
from application.common.ports.clock import Clock
from application.common.ports.unit_of_work import UnitOfWork
from application.files.errors import StoredFileNotFoundError
from application.files.read_file import ReadFileQuery
from application.notifications.mark_notifications_read import MarkNotificationsReadCommand
from application.notifications.set_phone_number import SetPhoneNumberCommand
from application.notifications.verify_phone_number import VerifyPhoneNumberCommand
from application.profiles.follow_relation import FollowCommand
from application.profiles.follow_user import FollowUser
from application.users.ban_user import BanUser, BanUserCommand
from application.users.errors import AccountBannedError
from application.users.log_in import LogInCommand
from application.users.refresh_session import RefreshSessionCommand
from application.users.register_user import RegisterUserCommand
from application.users.revoke_session import RevokeSessionCommand
from application.users.update_user import UpdateUserCommand
from domain.articles.values import Title
from domain.audit.chain import ChainWalk
from domain.audit.entry import ActorKind, AuditActor, AuditEntry, AuditRecord, Outcome
from domain.files.values import FileId, FilePurpose
from domain.notifications.phone import PhoneCodeError
from domain.shared.changes import REDACTED, FieldChange
from domain.shared.errors import DomainError
from domain.users.values import UserId
from tests.support.files import FilesWorld, png
from tests.support.notification_world import PHONE, NotificationWorld

REQUEST_ID = "req-audit-1"
CLIENT = ClientContext("203.0.113.7", "pytest-agent/1.0")
TYPED_PASSWORD = "password123"


@dataclass
class AuditedWorld(FilesWorld):
    """The files, articles and users use cases, on units of work that date entries by the
    world's clock and audit unless `audit` is off."""

    audit: bool = field(default=True)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.database, self.ids, self.clock, audit=self.audit)


@pytest.fixture
def world() -> AuditedWorld:
    return AuditedWorld()


async def entries(world: AuditedWorld | NotificationWorld) -> list[AuditEntry]:
    return list(await InMemoryAuditLog(world.database).oldest_first(after_seq=0, limit=10_000))


async def records_since(world: AuditedWorld | NotificationWorld, mark: int) -> list[AuditRecord]:
    return [entry.record for entry in await entries(world) if entry.seq > mark]


async def mark(world: AuditedWorld | NotificationWorld) -> int:
    return len(await entries(world))


@contextmanager
def request_by(identity: Identity | None, username: str | None = None) -> Iterator[None]:
    """Act as one HTTP request would: its id, its client, and its caller."""
    actor = (
        AuditActor.anonymous()
        if identity is None
        else AuditActor.user(str(identity.user_id), username)
    )
    request = current_request_id.set(REQUEST_ID)
    client = current_client.set(CLIENT)
    try:
        with acting_as(actor):
            yield
    finally:
        current_client.reset(client)
        current_request_id.reset(request)


def sign_in(email: str, password: str = TYPED_PASSWORD) -> LogInCommand:
    return LogInCommand(email=email, password=password)


# success


async def test_a_success_is_written_with_its_change_who_where_and_which_request(
    world: AuditedWorld,
) -> None:
    ada = await world.writer("ada")
    article = await world.publish(ada, "First")
    before = await mark(world)
    world.clock.advance(timedelta(minutes=3))

    with request_by(ada, "ada"):
        await world.update_article()(
            UpdateArticleCommand(actor=ada, slug=article.slug, title="Second")
        )

    (record,) = await records_since(world, before)
    assert record.action == "article.update"
    assert record.outcome is Outcome.SUCCESS
    assert record.reason is None
    assert record.actor == AuditActor.user(str(ada.user_id), "ada")
    assert (record.target_type, record.target_id) == ("article", article.slug)
    assert record.changes == (FieldChange("title", "First", "Second"),)
    assert (record.request_id, record.client_ip, record.user_agent) == (
        REQUEST_ID,
        CLIENT.ip,
        CLIENT.user_agent,
    )
    assert record.occurred_at == world.clock.now()


async def test_a_target_found_inside_the_use_case_is_named(world: AuditedWorld) -> None:
    ada = await world.writer("ada")
    bob = await world.writer("bob")
    before = await mark(world)

    with request_by(ada, "ada"):
        article = await world.publish(ada, "Found inside")
        await world.follow_user()(FollowCommand(actor=ada, username="bob"))

    published, followed = await records_since(world, before)
    assert (published.action, published.target_id) == ("article.publish", article.slug)
    assert (followed.action, followed.target_type, followed.target_id) == (
        "user.follow",
        "user",
        str(bob.user_id),
    )


async def test_an_account_entry_names_the_account_by_its_user_id(world: AuditedWorld) -> None:
    before = await mark(world)

    with request_by(None):
        signed = await world.register_user()(
            RegisterUserCommand(username="ada", email="ada@test.com", password=TYPED_PASSWORD)
        )

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome) == ("user.register", Outcome.SUCCESS)
    assert record.actor == AuditActor.anonymous()
    assert (record.target_type, record.target_id) == (
        "user",
        str(world.identity_of(signed).user_id),
    )


# rollback


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameCommand:
    slug: str


@audited("example.rename", target="article", target_id=lambda command: command.slug)
class RenameThenFail:
    """Rename an article, then fail before committing, with the error it is given."""

    def __init__(
        self, uow: UnitOfWork, articles: ArticleRepository, clock: Clock, error: Exception
    ) -> None:
        self._uow = uow
        self._articles = articles
        self._clock = clock
        self._error = error

    async def __call__(self, command: RenameCommand) -> None:
        async with self._uow:
            article = await self._articles.get_by_slug(command.slug, for_update=True)
            assert article is not None
            article.edit(now=self._clock.now(), title=Title("Renamed"))
            await self._articles.save(article)
            self._uow.track(article)
            raise self._error


async def test_a_rolled_back_transaction_leaves_no_entry(world: AuditedWorld) -> None:
    ada = await world.writer("ada")
    article = await world.publish(ada, "Kept")
    before = await mark(world)
    rename = RenameThenFail(world.uow(), world.articles, world.clock, ArticleNotFoundError())

    with request_by(ada, "ada"), pytest.raises(ArticleNotFoundError):
        await rename(RenameCommand(slug=article.slug))

    assert await records_since(world, before) == []
    stored = await world.articles.get_by_slug(article.slug)
    assert stored is not None
    assert str(stored.title) == "Kept"


async def test_a_failure_is_written_alone_without_the_change_it_rolled_back(
    world: AuditedWorld,
) -> None:
    ada = await world.writer("ada")
    article = await world.publish(ada, "Kept")
    before = await mark(world)
    rename = RenameThenFail(world.uow(), world.articles, world.clock, ConflictError("clash"))

    with request_by(ada, "ada"), pytest.raises(ConflictError):
        await rename(RenameCommand(slug=article.slug))

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason) == (
        "example.rename",
        Outcome.FAILED,
        "conflict",
    )
    assert record.changes == ()
    assert "article.updated" not in world.event_types()


# refusals


async def test_a_denial_is_written_although_its_transaction_rolled_back(
    world: AuditedWorld,
) -> None:
    ada, bob = await world.writer("ada"), await world.writer("bob")
    article = await world.publish(ada, "Mine")
    before = await mark(world)

    with request_by(bob, "bob"), pytest.raises(NotArticleAuthorError):
        await world.update_article()(
            UpdateArticleCommand(actor=bob, slug=article.slug, title="Yours now")
        )

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason) == (
        "article.update",
        Outcome.DENIED,
        "not_article_author",
    )
    assert record.actor == AuditActor.user(str(bob.user_id), "bob")
    assert (record.target_type, record.target_id) == ("article", article.slug)
    assert record.changes == ()
    assert (record.request_id, record.client_ip) == (REQUEST_ID, CLIENT.ip)
    stored = await world.articles.get_by_slug(article.slug)
    assert stored is not None
    assert str(stored.title) == "Mine"


async def test_a_refused_refresh_token_reuse_is_written_once_with_the_revocation(
    world: AuditedWorld,
) -> None:
    await world.register("ada")
    with request_by(None):
        signed = await world.log_in()(sign_in("ada@test.com"))
    session_id = world.identity_of(signed).session_id
    assert session_id is not None
    assert signed.refresh_token is not None
    await world.refresh_session()(RefreshSessionCommand(refresh_token=signed.refresh_token))
    world.clock.advance(world.session_policy.reuse_grace + timedelta(seconds=1))
    before = await mark(world)

    with request_by(None), pytest.raises(AuthenticationRequiredError):
        await world.refresh_session()(RefreshSessionCommand(refresh_token=signed.refresh_token))

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason) == (
        "session.refresh",
        Outcome.DENIED,
        "authentication_required",
    )
    assert (record.target_type, record.target_id) == (
        "user",
        str(world.identity_of(signed).user_id),
    )
    assert record.actor.kind is ActorKind.ANONYMOUS
    revoked = await world.sessions.get(session_id)
    assert revoked is not None
    assert revoked.revoked_reason == "refresh token reused"


async def test_a_banned_users_refresh_is_written_once_as_denied_with_the_revocation(
    world: AuditedWorld,
) -> None:
    signed = await world.register("ada")
    ada = world.identity_of(signed)
    assert signed.refresh_token is not None
    assert ada.session_id is not None
    user = await world.users.get(ada.user_id, for_update=True)
    assert user is not None
    user.ban(now=world.clock.now(), reason="banned while the session was live")
    await world.users.save(user)
    before = await mark(world)

    with request_by(None), pytest.raises(AccountBannedError):
        await world.refresh_session()(RefreshSessionCommand(refresh_token=signed.refresh_token))

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason, record.target_id) == (
        "session.refresh",
        Outcome.DENIED,
        "account_banned",
        str(ada.user_id),
    )
    assert record.actor.user_id == str(ada.user_id)
    revoked = await world.sessions.get(ada.session_id)
    assert revoked is not None
    assert revoked.revoked_reason == "user banned"


async def test_a_wrong_phone_code_is_written_once_as_denied_and_its_attempt_kept() -> None:
    world = NotificationWorld()
    user = await world.user("ada")
    await world.set_phone_number()(
        SetPhoneNumberCommand(user_id=user, phone=PHONE, client_ip="10.0.0.1")
    )
    before = await mark(world)
    with acting_as(AuditActor.user(str(user), "ada")), pytest.raises(PhoneCodeError):
        await world.verify_phone_number()(VerifyPhoneNumberCommand(user_id=user, code="999999"))

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason) == (
        "phone.verify",
        Outcome.DENIED,
        "phone_code",
    )
    assert (record.target_type, record.target_id) == ("phone", str(user))
    stored = await world.phones.get(user)
    assert stored is not None
    assert stored.attempts_left == 4
    assert "999999" not in repr(record)


async def test_sign_in_refusals_name_the_account_when_there_is_one(world: AuditedWorld) -> None:
    ada = world.identity_of(await world.register("ada"))
    before = await mark(world)

    with request_by(None):
        with pytest.raises(InvalidCredentialsError):
            await world.log_in()(sign_in("ada@test.com", "not-her-password"))
        with pytest.raises(InvalidCredentialsError):
            await world.log_in()(sign_in("nobody@test.com"))
        await world.log_in()(sign_in("ada@test.com"))

    wrong, unknown, right = await records_since(world, before)
    assert (wrong.outcome, wrong.reason, wrong.target_id) == (
        Outcome.DENIED,
        "invalid_credentials",
        str(ada.user_id),
    )
    assert (unknown.outcome, unknown.target_id) == (Outcome.DENIED, None)
    assert (right.action, right.outcome, right.target_id) == (
        "user.login",
        Outcome.SUCCESS,
        str(ada.user_id),
    )
    assert all(record.actor == AuditActor.anonymous() for record in (wrong, unknown, right))


async def test_a_banned_users_sign_in_is_denied_in_the_log_naming_them(
    world: AuditedWorld,
) -> None:
    ada = world.identity_of(await world.register("ada"))
    ban = BanUser(world.uow(), world.users, world.sessions, world.clock, world.live_sessions)
    with acting_as(AuditActor.user("operator-id", "root")):
        await ban(BanUserCommand(username="ada"))
    before = await mark(world)

    with request_by(None), pytest.raises(AccountBannedError):
        await world.log_in()(sign_in("ada@test.com"))

    (banned,) = [record for record in await records_since(world, 0) if record.action == "user.ban"]
    assert banned.changes == (FieldChange("banned", False, True),)
    assert banned.target_id == str(ada.user_id)
    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason, record.target_id) == (
        "user.login",
        Outcome.DENIED,
        "account_banned",
        str(ada.user_id),
    )


# object-level authorization probes


async def test_reading_someone_elses_file_is_not_found_to_them_and_denied_in_the_log(
    world: AuditedWorld,
) -> None:
    ada, bob = await world.writer("ada"), await world.writer("bob")
    uploaded = await world.upload(ada, png(), purpose=FilePurpose.ATTACHMENT, name="a.png")
    file_id = FileId(UUID(uploaded.id))
    before = await mark(world)

    with request_by(ada, "ada"):
        await world.read_file()(ReadFileQuery(reader=ada.user_id, file_id=file_id))
    assert await records_since(world, before) == [], "a read that succeeds writes nothing"

    with request_by(bob, "bob"), pytest.raises(StoredFileNotFoundError) as refused:
        await world.read_file()(ReadFileQuery(reader=bob.user_id, file_id=file_id))
    assert isinstance(refused.value, ConcealedDenialError)
    assert (refused.value.field, refused.value.message) == ("file", "not found")

    with request_by(bob, "bob"), pytest.raises(StoredFileNotFoundError) as missing:
        await world.read_file()(ReadFileQuery(reader=bob.user_id, file_id=FileId(UUID(int=12345))))
    assert not isinstance(missing.value, ConcealedDenialError)

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason) == (
        "file.read",
        Outcome.DENIED,
        "concealed_file",
    )
    assert (record.target_type, record.target_id, record.actor.user_id) == (
        "file",
        uploaded.id,
        str(bob.user_id),
    )


async def test_revoking_someone_elses_session_is_not_found_to_them_and_denied_in_the_log(
    world: AuditedWorld,
) -> None:
    ada = world.identity_of(await world.register("ada"))
    bob = world.identity_of(await world.register("bob"))
    assert ada.session_id is not None
    before = await mark(world)

    with request_by(bob, "bob"):
        with pytest.raises(NotFoundError):
            await world.revoke_session()(RevokeSessionCommand(actor=bob, session_id=ada.session_id))
        with pytest.raises(NotFoundError):
            await world.revoke_session()(RevokeSessionCommand(actor=bob, session_id=UUID(int=7)))

    (record,) = await records_since(world, before)
    assert (record.action, record.outcome, record.reason, record.target_id) == (
        "session.revoke",
        Outcome.DENIED,
        "concealed_session",
        str(ada.session_id),
    )


# nesting


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowAllCommand:
    actor: Identity
    usernames: Sequence[str]
    then_fail: bool = False


@audited("example.follow_all", target="user", target_id=lambda command: command.actor.user_id)
class FollowAll:
    """Follow several users in one transaction, through the `FollowUser` use case."""

    def __init__(self, uow: UnitOfWork, follow: FollowUser) -> None:
        self._uow = uow
        self._follow = follow

    async def __call__(self, command: FollowAllCommand) -> None:
        async with self._uow:
            for username in command.usernames:
                await self._follow(FollowCommand(actor=command.actor, username=username))
            if command.then_fail:
                raise ConflictError("changed my mind")
            await self._uow.commit()


async def test_a_nested_use_case_gets_its_own_entry_at_the_outer_commit(
    world: AuditedWorld,
) -> None:
    ada, bob, cy = [await world.writer(name) for name in ("ada", "bob", "cy")]
    uow = world.uow()
    follow_all = FollowAll(uow, FollowUser(uow, world.users, world.clock))
    before = await mark(world)

    with request_by(ada, "ada"), pytest.raises(ConflictError):
        await follow_all(FollowAllCommand(actor=ada, usernames=["bob", "cy"], then_fail=True))
    (failed,) = await records_since(world, before)
    assert (failed.action, failed.outcome) == ("example.follow_all", Outcome.FAILED)

    before = await mark(world)
    with request_by(ada, "ada"):
        await follow_all(FollowAllCommand(actor=ada, usernames=["bob", "cy"]))

    outer, first, second = await records_since(world, before)
    assert (outer.action, outer.target_id) == ("example.follow_all", str(ada.user_id))
    assert [(r.action, r.outcome, r.target_id) for r in (first, second)] == [
        ("user.follow", Outcome.SUCCESS, str(bob.user_id)),
        ("user.follow", Outcome.SUCCESS, str(cy.user_id)),
    ]
    assert {r.request_id for r in (outer, first, second)} == {REQUEST_ID}


# secrets


async def test_a_password_change_is_recorded_redacted(world: AuditedWorld) -> None:
    signed = await world.register("ada")
    ada = world.identity_of(signed)
    before = await mark(world)

    with request_by(ada, "ada"):
        await world.update_user()(
            UpdateUserCommand(
                actor=ada,
                access_token=signed.token,
                password="a-much-newer-secret",
                bio="Hello",
            )
        )

    (record,) = await records_since(world, before)
    assert record.action == "user.update"
    assert (record.target_type, record.target_id) == ("user", str(ada.user_id))
    assert FieldChange("password", REDACTED, REDACTED) in record.changes
    assert FieldChange("bio", None, "Hello") in record.changes
    everything = repr(await entries(world))
    for secret in ("a-much-newer-secret", TYPED_PASSWORD, signed.token):
        assert secret not in everything


# nothing written


async def test_with_audit_off_nothing_is_written() -> None:
    world = AuditedWorld(audit=False)
    ada, bob = await world.writer("ada"), await world.writer("bob")
    article = await world.publish(ada)
    await world.update_article()(UpdateArticleCommand(actor=ada, slug=article.slug, title="B"))
    with pytest.raises(NotArticleAuthorError):
        await world.update_article()(UpdateArticleCommand(actor=bob, slug=article.slug, title="C"))
    with pytest.raises(InvalidCredentialsError):
        await world.log_in()(sign_in("ada@test.com", "wrong-password"))

    assert await entries(world) == []


async def test_bad_input_and_plain_misses_write_nothing(world: AuditedWorld) -> None:
    ada = await world.writer("ada")
    before = await mark(world)

    with request_by(ada, "ada"):
        with pytest.raises(DomainError):
            await world.register_user()(
                RegisterUserCommand(username="", email="x@test.com", password=TYPED_PASSWORD)
            )
        with pytest.raises(DomainError):
            await world.update_article()(
                UpdateArticleCommand(actor=ada, slug="anything", title="  ")
            )
        with pytest.raises(ArticleNotFoundError):
            await world.favorite_article()(FavoriteCommand(actor=ada, slug="no-such-article"))

    notifications = NotificationWorld()
    with pytest.raises(InvalidInputError):
        await notifications.mark_read()(
            MarkNotificationsReadCommand(
                recipient=ada.user_id, notification_ids=[UUID(int=n) for n in range(101)]
            )
        )

    assert await records_since(world, before) == []
    assert await entries(notifications) == []


# the chain


async def test_what_the_use_cases_wrote_is_one_intact_chain(world: AuditedWorld) -> None:
    ada, bob = await world.writer("ada"), await world.writer("bob")
    article = await world.publish(ada)
    with pytest.raises(NotArticleAuthorError):
        await world.update_article()(UpdateArticleCommand(actor=bob, slug=article.slug, title="X"))
    await world.favorite_article()(FavoriteCommand(actor=bob, slug=article.slug))
    written = await entries(world)

    walk = ChainWalk()
    assert walk.check(written)
    assert walk.checked == len(written) >= 5
    assert [entry.seq for entry in written] == list(range(1, len(written) + 1))

    tampered = list(written)
    middle = tampered[2]
    changed = replace(middle.record, actor=AuditActor.user(str(UserId(UUID(int=1))), "mallory"))
    tampered[2] = AuditEntry(
        seq=middle.seq, record=changed, previous_hash=middle.previous_hash, hash=middle.hash
    )
    broken = ChainWalk()
    assert not broken.check(tampered)
    assert broken.broken is not None
    assert broken.broken.seq == middle.seq
