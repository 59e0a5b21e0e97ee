"""How a WhatsApp identifier becomes one canonical key (and the other forms the same person may write from).

- Phone numbers: parsed with `phonenumbers`, stored as E.164 digits without "+" (5511987654321).
  Brazilian mobiles gained a 9th digit in 2012-2016, but WhatsApp still knows many accounts by the
  old 8-digit form (551187654321): both forms are the same contact; the 9-digit one is canonical and
  the other is registered as a variant.
- Groups (`...@g.us`) are kept exactly as given.
- LIDs (`...@lid`, WhatsApp's privacy ids) are opaque: kept as given, usually as extra identifiers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_GROUP = re.compile(r"^\d{5,40}(-\d{5,20})?@g\.us$")
_LID = re.compile(r"^\d{5,40}@lid$")
_USER_SUFFIXES = ("@s.whatsapp.net", "@c.us")
BRAZIL = 55
# Brazilian mobile subscriber numbers start with 6-9 (landlines with 2-5); with the 9th digit they start with 9.
_BR_OLD_MOBILE = re.compile(r"^(\d{2})([6-9]\d{7})$")
_BR_MOBILE = re.compile(r"^(\d{2})9([6-9]\d{7})$")


class IdentityKind:
    PHONE = "phone"
    GROUP = "group"
    LID = "lid"


@dataclass(frozen=True)
class Identity:
    """A normalised identifier: `value` is the canonical key, `variants` other forms of the same number."""

    kind: str
    value: str
    variants: tuple[str, ...] = ()

    @property
    def is_group(self) -> bool:
        return self.kind == IdentityKind.GROUP

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.value, *self.variants)


def parse_identifier(raw: str) -> Identity:
    """Normalise a phone number, WhatsApp JID, group id or LID; raise ValidationError with a clear message."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number with country code, a group id or a LID."), code="required")
    lowered = text.lower()
    if lowered.endswith("@g.us"):
        if not _GROUP.match(lowered):
            raise ValidationError(_("“%(value)s” is not a valid WhatsApp group id.") % {"value": text}, code="invalid")
        return Identity(IdentityKind.GROUP, lowered)
    if lowered.endswith("@lid"):
        value = re.sub(r":\d+@", "@", lowered)  # drop a device suffix ("123:4@lid")
        if not _LID.match(value):
            raise ValidationError(_("“%(value)s” is not a valid WhatsApp LID.") % {"value": text}, code="invalid")
        return Identity(IdentityKind.LID, value)
    for suffix in _USER_SUFFIXES:
        if lowered.endswith(suffix):
            text = re.sub(r":\d+$", "", text[: -len(suffix)])
            break
    return parse_phone(text)


def parse_phone(raw: str) -> Identity:
    """E.164 digits of a phone number written with its country code (spaces, dashes, brackets and + allowed)."""
    digits = None if re.search(r"[^\d\s().+-]", raw) else re.sub(r"\D", "", raw)
    identity = _phone_identity(digits) if digits and 8 <= len(digits) <= 15 else None
    if identity is None:
        raise ValidationError(
            _("“%(value)s” is not a valid phone number. Write it with the country code, e.g. 5511987654321.")
            % {"value": raw},
            code="invalid_phone",
        )
    return identity


@functools.lru_cache(maxsize=8192)
def _phone_identity(digits: str) -> Identity | None:
    """The identity of a number's digits, None if it is not a valid number. Each API send and each gateway event
    names a number, mostly one seen moments before: phonenumbers' parsing and validation (its metadata walk) is
    done once per number and process, not per message. Identity is frozen, so sharing it is safe."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code == BRAZIL:
        return _brazilian(number)
    if not phonenumbers.is_valid_number(number):
        return None
    return Identity(IdentityKind.PHONE, _digits(number))


def _brazilian(number: phonenumbers.PhoneNumber) -> Identity | None:
    national = str(number.national_number)
    old = _BR_OLD_MOBILE.match(national)
    if old:  # 8-digit mobile: canonical form gets the 9th digit
        number = phonenumbers.parse(f"+55{old.group(1)}9{old.group(2)}", None)
    if not phonenumbers.is_valid_number(number):
        return None
    canonical = str(number.national_number)
    mobile = _BR_MOBILE.match(canonical)
    variants = (f"55{mobile.group(1)}{mobile.group(2)}",) if mobile else ()
    return Identity(IdentityKind.PHONE, _digits(number), variants)


def _digits(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
