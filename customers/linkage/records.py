"""Profiles prepared for comparison: folded (lower-case, no accents) and parsed once."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

# nickname=name it is short for (both sides are mapped before comparing)
_NICKNAMES = """
bill=william will=william liam=william bob=robert rob=robert bobby=robert dick=richard
rick=richard jim=james jimmy=james mike=michael kate=katherine katie=katherine
cathy=catherine liz=elizabeth beth=elizabeth betty=elizabeth peggy=margaret
maggie=margaret meg=margaret tom=thomas tommy=thomas joe=joseph joey=joseph dan=daniel
danny=daniel dave=david chris=christopher matt=matthew tony=anthony steve=steven
stephen=steven sam=samuel ben=benjamin alex=alexander sasha=alexander andy=andrew
drew=andrew nick=nicholas ed=edward ted=edward eddie=edward greg=gregory jon=jonathan
nate=nathan pat=patricia patty=patricia sue=susan jen=jennifer jenny=jennifer
becky=rebecca abby=abigail hans=johannes sepp=josef fritz=friedrich lena=helena
jo=johanna pepe=jose paco=francisco
"""
NICKNAMES = dict(pair.split("=") for pair in _NICKNAMES.split())
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "address_line1",
    "postal_code",
    "city",
)


def fold(value: object) -> str:
    text = str(value or "")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def _name(value: object) -> str:
    """A folded name with nicknames mapped to the full name."""
    name = " ".join(fold(value).replace("-", " ").replace(".", " ").split())
    return NICKNAMES.get(name, name)


@dataclass(frozen=True, slots=True)
class Record:
    pk: int
    first: str
    last: str
    email: str
    phone: str  # digits only
    birthday: str  # YYYYMMDD or ""
    street: str
    postal_code: str
    city: str

    @classmethod
    def build(cls, pk: int, **values: object) -> Record:
        birthday = values.get("birthday")
        return cls(
            pk=pk,
            first=_name(values.get("first_name")),
            last=_name(values.get("last_name")),
            email=fold(values.get("email")),
            phone="".join(ch for ch in str(values.get("phone") or "") if ch.isdigit()),
            birthday=birthday.strftime("%Y%m%d") if isinstance(birthday, date) else "",
            street=fold(values.get("address_line1")),
            postal_code=fold(values.get("postal_code")).replace(" ", ""),
            city=fold(values.get("city")),
        )
