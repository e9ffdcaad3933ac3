"""Cases: subjects, one lead, tasks and notes (public API of the cases domain)."""

from defchain.cases import oversight, policy, queries, service, tripwire
from defchain.cases.models import Case, CaseNote, CaseReport, CaseSubject, CaseTask, CheckIn
from defchain.cases.queries import (
    cases_of_person,
    notes_visible,
    open_tasks,
    reports_of,
    subjects_of,
    tasks_of,
)
from defchain.cases.rules import (
    CASE_STATUS_LABELS,
    LEVEL_OF_CONCERN_LABELS,
    TASK_KIND_LABELS,
    TASK_STATUS_LABELS,
    CaseStatus,
    LevelOfConcern,
    TaskKind,
    TaskStatus,
    status_after_assessment,
)
from defchain.cases.service import (
    add_note,
    add_report,
    add_subject,
    add_task,
    cancel_task,
    complete_task,
    open_case,
    record_concern,
)

policy.register()
tripwire.register()

__all__ = [
    "CASE_STATUS_LABELS",
    "LEVEL_OF_CONCERN_LABELS",
    "TASK_KIND_LABELS",
    "TASK_STATUS_LABELS",
    "Case",
    "CaseNote",
    "CaseReport",
    "CaseStatus",
    "CaseSubject",
    "CaseTask",
    "CheckIn",
    "LevelOfConcern",
    "TaskKind",
    "TaskStatus",
    "add_note",
    "add_report",
    "add_subject",
    "add_task",
    "cancel_task",
    "cases_of_person",
    "complete_task",
    "notes_visible",
    "open_case",
    "open_tasks",
    "oversight",
    "policy",
    "queries",
    "record_concern",
    "reports_of",
    "service",
    "status_after_assessment",
    "subjects_of",
    "tasks_of",
    "tripwire",
]
