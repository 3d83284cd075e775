"""Email verification, password reset and taking back an address, under /api/auth."""

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from application.common.permissions import Permission
from application.users.confirm_password_reset import (
    ConfirmPasswordReset,
    ConfirmPasswordResetCommand,
)
from application.users.request_password_reset import (
    RequestPasswordReset,
    RequestPasswordResetCommand,
)
from application.users.resend_verification import ResendVerification, ResendVerificationCommand
from application.users.restore_email import RestoreEmail, RestoreEmailCommand
from application.users.verify_email import VerifyEmail, VerifyEmailCommand
from entrypoints.http.auth import Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import auth_route
from entrypoints.http.schemas.users import (
    Accepted,
    EmailRestoration,
    PasswordResetConfirmation,
    PasswordResetRequest,
    VerificationRequest,
)

_UNUSABLE_LINK = "The token is unknown, expired or already used."


class AccountRecoveryController(Controller):
    """Prove an email address; reset a forgotten password; undo an email change."""

    path = "/api/auth"
    tags = ["account recovery"]  # noqa: RUF012 - Litestar reads this class attribute

    @post(
        "/verify-email",
        status_code=HTTP_204_NO_CONTENT,
        opt=auth_route(),
        summary="Verify email",
        description=described_by(VerifyEmail),
        responses=error_responses(not_found=_UNUSABLE_LINK, conflict=WRITE_CONFLICT),
    )
    @inject
    async def verify_email(
        self, data: JSONBody[VerificationRequest], verify_email: FromDishka[VerifyEmail]
    ) -> None:
        await verify_email(VerifyEmailCommand(token=data.token))

    @post(
        "/verify-email/resend",
        status_code=HTTP_204_NO_CONTENT,
        opt=auth_route(permission=Permission.MANAGE_OWN_ACCOUNT),
        summary="Resend the verification link",
        description=described_by(ResendVerification),
        responses=error_responses(
            conflict=WRITE_CONFLICT,
            too_many_requests="Too many links were mailed to this account lately.",
            unavailable="The store that counts the links mailed is unreachable.",
        ),
    )
    @inject
    async def resend_verification(
        self,
        actor: Actor,
        resend_verification: FromDishka[ResendVerification],
    ) -> None:
        await resend_verification(ResendVerificationCommand(actor=actor))

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        opt=auth_route(),
        summary="Ask for a reset",
        description=described_by(RequestPasswordReset),
        responses=error_responses(
            conflict=WRITE_CONFLICT,
            too_many_requests="Too many reset links were asked for this address lately.",
        ),
    )
    @inject
    async def request_reset(
        self,
        data: JSONBody[PasswordResetRequest],
        request_password_reset: FromDishka[RequestPasswordReset],
    ) -> Accepted:
        await request_password_reset(RequestPasswordResetCommand(email=data.email))
        return Accepted()

    @post(
        "/password-reset/confirm",
        status_code=HTTP_204_NO_CONTENT,
        opt=auth_route(),
        summary="Reset the password",
        description=described_by(ConfirmPasswordReset),
        responses=error_responses(not_found=_UNUSABLE_LINK, conflict=WRITE_CONFLICT),
    )
    @inject
    async def confirm_reset(
        self,
        data: JSONBody[PasswordResetConfirmation],
        confirm_password_reset: FromDishka[ConfirmPasswordReset],
    ) -> None:
        await confirm_password_reset(
            ConfirmPasswordResetCommand(token=data.token, password=data.password)
        )

    @post(
        "/restore-email",
        status_code=HTTP_204_NO_CONTENT,
        opt=auth_route(),
        summary="Take back the address",
        description=described_by(RestoreEmail),
        responses=error_responses(
            not_found=_UNUSABLE_LINK,
            conflict=f"Another account has taken the address since. {WRITE_CONFLICT}",
        ),
    )
    @inject
    async def restore_email(
        self, data: JSONBody[EmailRestoration], restore_email: FromDishka[RestoreEmail]
    ) -> None:
        await restore_email(RestoreEmailCommand(token=data.token, password=data.password))
