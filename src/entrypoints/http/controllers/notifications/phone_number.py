"""The caller's phone number for SMS: set it, prove it with a code, or remove it."""

from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, delete, get, post, put
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from application.common.permissions import Permission
from application.notifications.get_phone_number import GetPhoneNumber
from application.notifications.remove_phone_number import RemovePhoneNumber
from application.notifications.set_phone_number import SetPhoneNumber, SetPhoneNumberCommand
from application.notifications.verify_phone_number import (
    VerifyPhoneNumber,
    VerifyPhoneNumberCommand,
)
from entrypoints.http.auth import Actor
from entrypoints.http.openapi import WRITE_CONFLICT, described_by, error_responses
from entrypoints.http.rate_limits import EdgeRateLimits, auth_route
from entrypoints.http.schemas.notifications import PhoneBody, PhoneCodeBody, PhoneResponse

_PHONE_CODES = auth_route(permission=Permission.MANAGE_OWN_ACCOUNT)
"""Codes cost money and can be guessed: these routes are limited per IP like sign-in."""


class PhoneNumberController(Controller):
    """The caller's phone number: SMS goes only to a number proven by a code."""

    path = "/api/user/phone"
    tags = ["notifications"]  # noqa: RUF012 - Litestar reads this class attribute

    @get(
        "/",
        summary="Read the phone number",
        description=described_by(GetPhoneNumber),
        responses=error_responses(),
    )
    @inject
    async def phone(self, actor: Actor, get_phone: FromDishka[GetPhoneNumber]) -> PhoneResponse:
        return PhoneResponse.of(await get_phone(actor.user_id))

    @put(
        "/",
        opt=_PHONE_CODES,
        summary="Set the phone number and text it a code",
        description=described_by(SetPhoneNumber),
        responses=error_responses(
            conflict=WRITE_CONFLICT,
            unprocessable=(
                "The number's calling code is not on SMS_ALLOWED_CALLING_CODES; the envelope "
                "keys it `phone`."
            ),
            too_many_requests="Too many codes for this account, this client or this number.",
            unavailable="The hourly budget of texts is spent, or its store is unreachable.",
        ),
    )
    @inject
    async def set_phone(
        self,
        actor: Actor,
        request: Request[Any, Any, Any],
        data: JSONBody[PhoneBody],
        set_phone: FromDishka[SetPhoneNumber],
        limits: FromDishka[EdgeRateLimits],
    ) -> PhoneResponse:
        state = await set_phone(
            SetPhoneNumberCommand(
                user_id=actor.user_id,
                phone=data.phone,
                client_ip=limits.client_address.resolve(request),
            )
        )
        return PhoneResponse.of(state)

    @post(
        "/verify",
        status_code=HTTP_200_OK,
        opt=_PHONE_CODES,
        summary="Verify the phone number",
        description=described_by(VerifyPhoneNumber),
        responses=error_responses(
            not_found="The caller has no phone number to verify.",
            conflict=WRITE_CONFLICT,
            unprocessable="The code is wrong, expired or used up; the envelope keys it `code`.",
        ),
    )
    @inject
    async def verify(
        self,
        actor: Actor,
        data: JSONBody[PhoneCodeBody],
        verify_phone: FromDishka[VerifyPhoneNumber],
    ) -> PhoneResponse:
        state = await verify_phone(VerifyPhoneNumberCommand(user_id=actor.user_id, code=data.code))
        return PhoneResponse.of(state)

    @delete(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove the phone number",
        description=described_by(RemovePhoneNumber),
        responses=error_responses(conflict=WRITE_CONFLICT),
    )
    @inject
    async def remove(self, actor: Actor, remove_phone: FromDishka[RemovePhoneNumber]) -> None:
        await remove_phone(actor.user_id)
