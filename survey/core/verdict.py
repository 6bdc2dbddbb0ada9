"""The verdict vocabulary: what the classifier concludes about one domain."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from survey.core.outcomes import SenderOutcome

if TYPE_CHECKING:
    from survey.core.dane import DaneAssessment
    from survey.core.facts import Facts


class Status(StrEnum):
    ABSENT = "absent"  # nothing published
    INVALID = "invalid"  # something published, but a compliant sender applies no policy
    NONE = "none"  # a compliant sender applies a policy in mode none
    TESTING = "testing"
    ENFORCE = "enforce"
    ERROR = "error"  # our measurement failed (resolver timeout, SERVFAIL): nothing can be said


#: The one status list, in the schema's order (weakest first); every other list derives from it.
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
#: Statuses under which a compliant sender applies a policy.
ADOPTED: tuple[str, ...] = (Status.NONE.value, Status.TESTING.value, Status.ENFORCE.value)
#: The order tables and progress lines list statuses: strongest first, the failed measurement last.
DISPLAY_ORDER: tuple[str, ...] = tuple(s.value for s in (
    Status.ENFORCE, Status.TESTING, Status.NONE, Status.INVALID, Status.ABSENT, Status.ERROR))


class Grade(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


GRADE_OF_STATUS: dict[Status, Grade | None] = {
    Status.ENFORCE: Grade.PASS,
    Status.TESTING: Grade.WARN,
    Status.NONE: Grade.FAIL,
    Status.ABSENT: Grade.FAIL,
    Status.INVALID: Grade.FAIL,
    Status.ERROR: None,
}


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    mode: str | None  # the mode written in a fetched, parsed policy
    grade: Grade | None
    mistakes: tuple[str, ...]  # codes from survey.core.mistakes, in a stable order
    error_reason: str | None = None  # why status is error (which lookup failed, how)
    #: the DANE part (issue 16): the ``dane`` and ``sender_*`` columns; not compared, so that a
    #: verdict reads as its MTA-STS meaning in tests
    dane: DaneAssessment | None = field(default=None, compare=False)
    #: what each sender profile does (survey.core.senders, the RFC's first); empty for error.
    #: Left out of equality: verdicts compare on what ``status`` and the mistakes say.
    sender_outcomes: tuple[SenderOutcome, ...] = field(default=(), compare=False)
    #: the selected records and the parsed policy the verdict was made from (``classify`` sets
    #: them; ``to_row`` writes its parsed columns from them, parsing only when they are missing)
    facts: Facts | None = field(default=None, compare=False)
