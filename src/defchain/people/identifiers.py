"""Identifiers as given → normalized values and a linkage ``Profile``.

An invalid value (a phone number that is not one, an impossible date) is kept as given
with ``normalized`` empty and the reason in ``detail["invalid"]``: it is shown and
reported, never silently dropped, and it takes no part in matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import usaddress

from defchain.people.rules import (
    Field,
    InvalidValue,
    Profile,
    email,
    fold,
    handle,
    id_number,
    name_part,
    org,
    partial_date,
    phone,
    split_name,
)


class Kind(StrEnum):
    NAME = "name"
    NICKNAME = "nickname"
    DATE_OF_BIRTH = "date_of_birth"
    APPROXIMATE_AGE = "approximate_age"
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"
    HANDLE = "handle"
    SCHOOL = "school"
    EMPLOYER = "employer"
    ID_NUMBER = "id_number"  # a state ID, driver's license or student ID number


KIND_LABELS = {
    Kind.NAME: "Name",
    Kind.NICKNAME: "Nickname or alias",
    Kind.DATE_OF_BIRTH: "Date of birth",
    Kind.APPROXIMATE_AGE: "Approximate age",
    Kind.ADDRESS: "Address",
    Kind.PHONE: "Phone",
    Kind.EMAIL: "E-mail",
    Kind.HANDLE: "Online handle",
    Kind.SCHOOL: "School",
    Kind.EMPLOYER: "Employer",
    Kind.ID_NUMBER: "ID number",
}

# A report's subject fields → identifier kinds.
SUBJECT_KINDS = {
    "name": Kind.NAME,
    "nickname": Kind.NICKNAME,
    "date_of_birth": Kind.DATE_OF_BIRTH,
    "approximate_age": Kind.APPROXIMATE_AGE,
    "address": Kind.ADDRESS,
    "phone": Kind.PHONE,
    "email": Kind.EMAIL,
    "online_handle": Kind.HANDLE,
    "school": Kind.SCHOOL,
    "workplace": Kind.EMPLOYER,
}

_ZIP = re.compile(r"\b(\d{5})(?:-\d{4})?\b")


@dataclass(frozen=True)
class Normalized:
    """One identifier: the value as given, what linkage compares, and its parts."""

    kind: Kind
    value: str
    normalized: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def invalid(self) -> str | None:
        reason = self.detail.get("invalid")
        return str(reason) if reason else None


def address_key(text: str) -> str:
    """``"street|zip"``: house number and street name folded, and the 5-digit ZIP code."""
    try:
        tagged, _ = usaddress.tag(text)
        street = " ".join(
            str(tagged[part])
            for part in (
                "AddressNumber",
                "StreetNamePreDirectional",
                "StreetName",
                "StreetNamePostType",
            )
            if part in tagged
        )
        zip_code = str(tagged.get("ZipCode", ""))[:5]
    except usaddress.RepeatedLabelError:
        street, zip_code = text.split(",")[0], ""
    if not zip_code and (found := _ZIP.search(text)):
        zip_code = found.group(1)
    return f"{fold(street)}|{zip_code}"


def normalize(kind: Kind, value: str, *, year: int) -> Normalized:
    """Normalize one value; ``year`` is when it was given (for an approximate age)."""
    raw = value.strip()
    try:
        return _normalize(kind, raw, year)
    except InvalidValue as exc:
        return Normalized(kind, raw, "", {"invalid": exc.reason})


def _normalize(kind: Kind, raw: str, year: int) -> Normalized:
    if kind is Kind.NAME:
        parts = split_name(raw)
        if not (parts.given or parts.surname):
            raise InvalidValue("name", raw, "no letters in the name")
        detail = {"given": parts.given, "middle": parts.middle, "surname": parts.surname}
        return Normalized(kind, raw, f"{parts.given} {parts.surname}".strip(), detail)
    if kind is Kind.NICKNAME:
        words = [w for w in (name_part(p) for p in raw.split()) if w]
        if not words:
            raise InvalidValue("nickname", raw, "no letters in the nickname")
        return Normalized(kind, raw, words[0])
    if kind is Kind.DATE_OF_BIRTH:
        return Normalized(kind, raw, str(partial_date(raw)))
    if kind is Kind.APPROXIMATE_AGE:
        if not raw.isdigit() or not 1 <= int(raw) <= 120:
            raise InvalidValue("approximate_age", raw, "an age in years, 1 to 120")
        return Normalized(kind, raw, f"{int(raw)}@{year}", {"year": year})
    if kind is Kind.ADDRESS:
        key = address_key(raw)
        if key == "|":
            raise InvalidValue("address", raw, "no street or ZIP code")
        return Normalized(kind, raw, key)
    if kind is Kind.PHONE:
        return Normalized(kind, raw, phone(raw))
    if kind is Kind.EMAIL:
        found = email(raw)
        if not found:
            raise InvalidValue("email", raw, "not an e-mail address")
        return Normalized(kind, raw, found)
    if kind is Kind.HANDLE:
        found = handle(raw)
        if not found:
            raise InvalidValue("handle", raw, "no letters or digits")
        return Normalized(kind, raw, found)
    if kind is Kind.ID_NUMBER:
        found = id_number(raw)
        if len(found) < 4:
            raise InvalidValue("id_number", raw, "at least 4 letters or digits")
        return Normalized(kind, raw, found)
    found = org(raw)  # school or employer
    if not found:
        raise InvalidValue(kind.value, raw, "no letters or digits")
    return Normalized(kind, raw, found)


def from_subject(subject: Mapping[str, Any], *, year: int) -> list[Normalized]:
    """The identifiers in a report's ``subject`` (empty fields are not identifiers)."""
    found: list[Normalized] = []
    for name, kind in SUBJECT_KINDS.items():
        value = subject.get(name)
        if value is None or value == "":
            continue
        found.append(normalize(kind, str(value), year=year))
    return found


def profile_of(identifiers: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Profile:
    """A linkage profile from ``(kind, normalized, detail)`` triples."""
    profile = Profile()
    for kind, normalized, detail in identifiers:
        if not normalized:
            continue  # invalid: shown, not compared
        if kind == Kind.NAME:
            profile.add(Field.GIVEN, str(detail.get("given", "")))
            profile.add(Field.SURNAME, str(detail.get("surname", "")))
        elif kind == Kind.NICKNAME:
            profile.add(Field.GIVEN, normalized)
        elif kind == Kind.DATE_OF_BIRTH:
            profile.add(Field.DOB, normalized)
        elif kind == Kind.APPROXIMATE_AGE:
            profile.add(Field.AGE, normalized)
        elif kind in (Kind.SCHOOL, Kind.EMPLOYER):
            profile.add(Field.ORG, normalized)
        elif kind == Kind.ADDRESS:
            profile.add(Field.ADDRESS, normalized)
        else:  # phone, email, handle, id_number: the field has the kind's name
            profile.add(Field(str(kind)), normalized)
    return profile


def profile_of_normalized(items: Iterable[Normalized]) -> Profile:
    return profile_of((item.kind, item.normalized, item.detail) for item in items)
