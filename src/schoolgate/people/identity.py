"""Is this person record the same human as that one? Evidence and a score, explained.

Used for successors (a contact-code change or family split re-keys a person) and for duplicate contacts (the
same mother entered twice). Fields are normalised before comparing: e-mail case and spaces, phone digits (the
last ten), names without case, accents or punctuation. The score adds what matches and halves when both
records carry different given names, so a mother and a father sharing a household e-mail or phone never
reach a strong match.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

STRONG = 0.85  # acted on (superseded; transferred automatically when the district allows)
WEAK = 0.45  # only ever suggested

WEIGHTS = {"email": 0.5, "phone": 0.25, "family name": 0.15, "given name": 0.25}
DIFFERENT_GIVEN_NAME = 0.4  # multiplier


@dataclass(frozen=True)
class Candidate:
    """What a record says about the human behind it."""

    person_id: int
    code: str
    kind: str
    given: str = ""
    family: str = ""
    email: str = ""
    phones: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, person_id: int, code: str, kind: str, given: str, family: str, email: str, *phones: str
    ) -> Candidate:
        return cls(
            person_id,
            code,
            kind,
            normalise_name(given),
            normalise_name(family),
            normalise_email(email),
            tuple(sorted({p for p in (normalise_phone(x) for x in phones) if p})),
        )


@dataclass(frozen=True)
class Evidence:
    score: float
    reasons: list[str] = field(default_factory=list)

    @property
    def strength(self) -> str | None:
        return "strong" if self.score >= STRONG else "weak" if self.score >= WEAK else None


def normalise_email(value: str | None) -> str:
    return (value or "").strip().casefold()


def normalise_phone(value: str | None) -> str:
    digits = re.sub(r"\D", "", value or "")
    return digits[-10:] if len(digits) >= 7 else ""


def normalise_name(value: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", value or "")
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w]", "", letters.casefold())


def _same_given(a: str, b: str) -> bool:
    # "Kate" and "K" (an initial) agree; "Kate" and "Tom" do not.
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def compare(a: Candidate, b: Candidate) -> Evidence:
    """How strongly the two records look like one human, and why."""
    score, reasons = 0.0, []
    if a.email and a.email == b.email:
        score += WEIGHTS["email"]
        reasons.append("email")
    if set(a.phones) & set(b.phones):
        score += WEIGHTS["phone"]
        reasons.append("phone")
    if a.family and a.family == b.family:
        score += WEIGHTS["family name"]
        reasons.append("family name")
        if a.given and b.given and _same_given(a.given, b.given):
            score += WEIGHTS["given name"]
            reasons.append("given name")
    if a.given and b.given and not _same_given(a.given, b.given):
        score *= DIFFERENT_GIVEN_NAME
        reasons.append("different given name")
    return Evidence(round(min(score, 1.0), 2), reasons)


def _keys(c: Candidate) -> Iterable[tuple[str, str]]:
    if c.email:
        yield "email", c.email
    for phone in c.phones:
        yield "phone", phone
    if c.family:
        yield "name", f"{c.family}|{c.given[:1]}"


def best_matches(olds: list[Candidate], news: list[Candidate]) -> list[tuple[Candidate, Candidate, Evidence]]:
    """Each old record paired with its best new record of the same kind (score ≥ WEAK), strongest pairs
    first; a new record succeeds at most one old one."""
    index: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for new in news:
        for key in _keys(new):
            index[key].append(new)
    scored = []
    for old in olds:
        seen: set[int] = set()
        for key in _keys(old):
            for new in index.get(key, ()):
                if new.person_id in seen or new.person_id == old.person_id or new.kind != old.kind:
                    continue
                seen.add(new.person_id)
                evidence = compare(old, new)
                if evidence.strength:
                    scored.append((evidence.score, old.code, new.code, old, new, evidence))
    scored.sort(key=lambda row: (-row[0], row[1], row[2]))
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    pairs = []
    for _, _, _, old, new, evidence in scored:
        if old.person_id in taken_old or new.person_id in taken_new:
            continue
        taken_old.add(old.person_id)
        taken_new.add(new.person_id)
        pairs.append((old, new, evidence))
    return pairs


def duplicate_pairs(people: list[Candidate]) -> list[tuple[Candidate, Candidate, Evidence]]:
    """Pairs of records in one list that look like the same human (strong evidence only)."""
    index: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for person in people:
        for key in _keys(person):
            index[key].append(person)
    found: dict[tuple[int, int], tuple[Candidate, Candidate, Evidence]] = {}
    for group in index.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                pair = (min(a.person_id, b.person_id), max(a.person_id, b.person_id))
                if pair in found or a.kind != b.kind:
                    continue
                evidence = compare(a, b)
                if evidence.strength == "strong":
                    found[pair] = (a, b, evidence)
    return [found[k] for k in sorted(found)]
