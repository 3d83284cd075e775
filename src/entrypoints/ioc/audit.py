"""Providers of the audit context: its policy from settings, and its use cases."""

import hmac
from datetime import timedelta

from dishka import Provider, Scope, provide, provide_all

from application.audit.archive_audit_entries import ArchiveAuditEntries
from application.audit.list_audit_entries import ListAuditEntries
from application.audit.list_own_activity import ListOwnActivity
from application.audit.policy import AuditPolicy
from application.audit.read_audit_feed import ReadAuditFeed
from application.audit.record_denial import RecordDenial
from application.audit.seal_audit_entries import SealAuditEntries
from application.audit.sign_audit_checkpoint import SignAuditCheckpoint
from application.audit.verify_audit_chain import VerifyAuditChain
from entrypoints.config.settings import Settings


class AuditPolicyProvider(Provider):
    """The audit policy, once per process."""

    scope = Scope.APP

    @provide
    def policy(self, settings: Settings) -> AuditPolicy:
        """The signing key: AUDIT_SIGNING_KEY, or outside production one derived from JWT_SECRET."""
        audit = settings.audit
        if audit.signing_key is not None:
            key = audit.signing_key.encode()
        elif settings.auth.jwt_secret is not None and not settings.is_production:
            key = hmac.new(
                settings.auth.jwt_secret.encode(), b"audit-signing-key", "sha256"
            ).digest()
        else:
            raise RuntimeError("AUDIT_SIGNING_KEY must be resolved before the container is built")
        return AuditPolicy(
            signing_key=key,
            retention=timedelta(days=audit.retention_days),
        )


class AuditUseCaseProvider(Provider):
    """The audit context's use cases, in REQUEST scope."""

    scope = Scope.REQUEST
    use_cases = provide_all(
        ListAuditEntries,
        ListOwnActivity,
        ReadAuditFeed,
        RecordDenial,
        SealAuditEntries,
        SignAuditCheckpoint,
        VerifyAuditChain,
        ArchiveAuditEntries,
    )
