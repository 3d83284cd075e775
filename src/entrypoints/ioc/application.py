"""Providers for the use cases; each is built per request from the ports it declares."""

import dataclasses
from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all

from application.articles.add_comment import AddComment
from application.articles.delete_article import DeleteArticle
from application.articles.delete_comment import DeleteComment
from application.articles.favorite_article import FavoriteArticle
from application.articles.feed_articles import FeedArticles
from application.articles.get_article import GetArticle
from application.articles.list_articles import ListArticles
from application.articles.list_comments import ListComments
from application.articles.list_tags import ListTags
from application.articles.publish_article import PublishArticle
from application.articles.unfavorite_article import UnfavoriteArticle
from application.articles.update_article import UpdateArticle
from application.common.ports.rate_limits import RateLimit
from application.demo.seed_content import SeedDemoContent
from application.events.handle_event import HandleEvent
from application.events.outbox_status import GetOutboxStatus
from application.events.purge_outbox import PurgeOutbox
from application.events.purge_processed_events import PurgeProcessedEvents
from application.events.relay_outbox import RelayOutbox, RelayPolicy
from application.events.replay_outbox import ReplayOutbox
from application.health.check_readiness import CheckReadiness
from application.notifications.send_templated_email import SendTemplatedEmail
from application.profiles.follow_user import FollowUser
from application.profiles.get_profile import GetProfile
from application.profiles.unfollow_user import UnfollowUser
from application.users.account_opener import AccountOpener
from application.users.account_recovery import AccountRecovery
from application.users.authenticate import Authenticate
from application.users.ban_user import BanUser
from application.users.check_link_token import CheckLinkToken
from application.users.confirm_password_reset import ConfirmPasswordReset
from application.users.create_admin import CreateAdmin
from application.users.get_current_user import GetCurrentUser
from application.users.issue_password_reset import IssuePasswordReset
from application.users.list_sessions import ListSessions
from application.users.log_in import LogIn, LoginThrottle
from application.users.log_out import LogOut
from application.users.log_out_all import LogOutAll
from application.users.one_time_tokens import OneTimeTokenMailer, OneTimeTokenPolicy
from application.users.purge_ended_credentials import PurgeEndedCredentials
from application.users.refresh_session import RefreshSession
from application.users.register_user import RegisterUser
from application.users.request_password_reset import RequestPasswordReset, ResetThrottle
from application.users.resend_verification import ResendVerification, ResendVerificationPolicy
from application.users.restore_email import RestoreEmail
from application.users.revoke_session import RevokeSession
from application.users.security_notices import SecurityNotices
from application.users.session_opener import SessionOpener
from application.users.session_policy import SessionPolicy
from application.users.set_role import SetRole
from application.users.step_up import StepUpPolicy
from application.users.unban_user import UnbanUser
from application.users.update_user import UpdateUser
from application.users.verify_email import VerifyEmail
from domain.users.one_time_token import TokenPurpose
from entrypoints.config.settings import Settings
from entrypoints.http.client_address import ClientAddressResolver, parse_networks
from entrypoints.http.rate_limits import (
    ARTICLES,
    AUTH,
    COMMENTS,
    FAVORITES,
    FOLLOWS,
    REGISTRATION,
    UPLOADS,
    EdgeRateLimits,
)


class PolicyProvider(Provider):
    """Business limits that come from settings."""

    scope = Scope.APP

    @provide
    def login_throttle(self, settings: Settings) -> LoginThrottle:
        """Failed sign-ins per account and client, and per account from unknown clients."""
        limits = settings.rate_limit
        return LoginThrottle(
            per_client=RateLimit(
                limit=limits.failed_logins_per_account,
                window_seconds=limits.failed_logins_window_seconds,
            ),
            untrusted=RateLimit(
                limit=limits.untrusted_failed_logins_per_account,
                window_seconds=limits.untrusted_failed_logins_window_seconds,
            ),
            fail_open=limits.login_fail_open,
        )

    @provide
    def session_policy(self, settings: Settings) -> SessionPolicy:
        """How long sessions last, and how long a rotated token may be repeated."""
        return SessionPolicy(
            refresh_ttl=timedelta(seconds=settings.auth.refresh_token_ttl_seconds),
            max_lifetime=timedelta(seconds=settings.auth.session_max_lifetime_seconds),
            reuse_grace=timedelta(seconds=settings.auth.refresh_reuse_grace_seconds),
        )

    @provide
    def one_time_token_policy(self, settings: Settings) -> OneTimeTokenPolicy:
        """Link lifetimes, and where links point: the built-in pages, or a web frontend's."""
        links = settings.links
        policy = OneTimeTokenPolicy(
            verification_ttl=timedelta(seconds=settings.auth.email_verification_ttl_seconds),
            reset_ttl=timedelta(seconds=settings.auth.password_reset_ttl_seconds),
            restore_ttl=timedelta(seconds=settings.auth.email_restore_ttl_seconds),
            public_url=settings.app.public_url,
        )
        if links.frontend_url is None:
            return policy
        return dataclasses.replace(
            policy,
            public_url=links.frontend_url,
            link_paths={
                TokenPurpose.VERIFY_EMAIL: links.verify_email_path,
                TokenPurpose.RESET_PASSWORD: links.reset_password_path,
                TokenPurpose.RESTORE_EMAIL: links.restore_email_path,
            },
        )

    @provide
    def step_up_policy(self, settings: Settings) -> StepUpPolicy:
        """How recent a sign-in vouches for an email or password change."""
        return StepUpPolicy(
            window=timedelta(seconds=settings.auth.step_up_window_seconds),
            failures=RateLimit(
                limit=settings.rate_limit.failed_logins_per_account,
                window_seconds=settings.rate_limit.failed_logins_window_seconds,
            ),
        )

    @provide
    def resend_verification_policy(self, settings: Settings) -> ResendVerificationPolicy:
        """Verification resends per account per window."""
        limits = settings.rate_limit
        return ResendVerificationPolicy(
            per_account=RateLimit(
                limit=limits.verification_emails_per_account,
                window_seconds=limits.verification_emails_window_seconds,
            )
        )

    @provide
    def reset_throttle(self, settings: Settings) -> ResetThrottle:
        """Reset links per email per window."""
        limits = settings.rate_limit
        return ResetThrottle(
            per_account=RateLimit(
                limit=limits.password_resets_per_account,
                window_seconds=limits.password_resets_window_seconds,
            )
        )

    @provide
    def relay_policy(self, settings: Settings) -> RelayPolicy:
        """Batch size and retry backoff of the outbox relay."""
        outbox = settings.outbox
        return RelayPolicy(
            batch_size=outbox.batch_size,
            retry_base=timedelta(seconds=outbox.retry_base_seconds),
            retry_max=timedelta(seconds=outbox.retry_max_seconds),
        )

    @provide
    def edge_rate_limits(self, settings: Settings) -> EdgeRateLimits:
        """The rules that routes name: per IP (auth, sign-up), per user (writes)."""
        limits = settings.rate_limit
        auth = RateLimit(
            limit=limits.auth_per_ip_limit, window_seconds=limits.auth_per_ip_window_seconds
        )
        registration = RateLimit(
            limit=limits.registrations_per_ip_limit,
            window_seconds=limits.registrations_per_ip_window_seconds,
        )
        per_user = {
            FOLLOWS: (limits.follows_per_user_limit, limits.follows_per_user_window_seconds),
            FAVORITES: (limits.favorites_per_user_limit, limits.favorites_per_user_window_seconds),
            COMMENTS: (limits.comments_per_user_limit, limits.comments_per_user_window_seconds),
            ARTICLES: (limits.articles_per_user_limit, limits.articles_per_user_window_seconds),
            UPLOADS: (limits.uploads_per_user_limit, limits.uploads_per_user_window_seconds),
        }
        return EdgeRateLimits(
            rules={
                AUTH: auth,
                REGISTRATION: registration,
                **{
                    rule: RateLimit(limit=limit, window_seconds=window)
                    for rule, (limit, window) in per_user.items()
                },
            },
            fail_open=limits.fail_open,
            client_address=ClientAddressResolver(parse_networks(settings.app.trusted_proxies)),
        )


class UseCaseProvider(Provider):
    """Every use case, in REQUEST scope."""

    scope = Scope.REQUEST
    use_cases = provide_all(
        CheckReadiness,
        RegisterUser,
        LogIn,
        GetCurrentUser,
        UpdateUser,
        GetProfile,
        FollowUser,
        UnfollowUser,
        RefreshSession,
        Authenticate,
        LogOut,
        LogOutAll,
        ListSessions,
        RevokeSession,
        CreateAdmin,
        SetRole,
        BanUser,
        UnbanUser,
        VerifyEmail,
        ResendVerification,
        RequestPasswordReset,
        IssuePasswordReset,
        ConfirmPasswordReset,
        RestoreEmail,
        CheckLinkToken,
        SecurityNotices,
        SendTemplatedEmail,
        OneTimeTokenMailer,
        SessionOpener,
        AccountOpener,
        AccountRecovery,
        PublishArticle,
        GetArticle,
        ListArticles,
        FeedArticles,
        UpdateArticle,
        DeleteArticle,
        FavoriteArticle,
        UnfavoriteArticle,
        AddComment,
        ListComments,
        DeleteComment,
        ListTags,
        SeedDemoContent,
        RelayOutbox,
        PurgeOutbox,
        GetOutboxStatus,
        ReplayOutbox,
        HandleEvent,
        PurgeProcessedEvents,
        PurgeEndedCredentials,
    )
