"""Assessment: versioned instruments as data, pure scoring, immutable assessments
(public API of the assessment domain)."""

from defchain.assessment import timeline_source  # noqa: F401  (registers the case timeline's source)
from defchain.assessment.instrument import (
    Instrument,
    InstrumentError,
    default_instruments,
    get_instrument,
    load_file,
    load_text,
)
from defchain.assessment.models import Assessment, AssessmentAnswer
from defchain.assessment.scoring import Level, Result, Stage, score

__all__ = [
    "Assessment",
    "AssessmentAnswer",
    "Instrument",
    "InstrumentError",
    "Level",
    "Result",
    "Stage",
    "default_instruments",
    "get_instrument",
    "load_file",
    "load_text",
    "score",
]
