"""Firearms: the denial follow-up, the banned-person watch and the ERPO tracker
(public API of the domain). Importing it registers the follow-up and watch listeners
and the ``on_watch`` person fact with triage."""

from defchain.firearms import erpo, queries, service, watch
from defchain.firearms.erpo import (
    FirearmIn,
    add_firearms,
    advance,
    create_order,
    record_surrender,
    remind_expiring,
    renew,
    set_return_date,
)
from defchain.firearms.models import (
    ErpoOrder,
    FirearmPolicy,
    FollowUp,
    FollowUpStep,
    Prohibition,
    SurrenderedFirearm,
)
from defchain.firearms.queries import dashboard, erpo_context, followup_context
from defchain.firearms.rules import (
    DECISION_LABELS,
    ERPO_STAGE_LABELS,
    STEP_LABELS,
    Decision,
    ErpoStage,
    FollowUpKind,
    FollowUpStatus,
    ProhibitionKind,
    Step,
)
from defchain.firearms.service import (
    complete_step,
    decide,
    record_outcome,
    set_policy,
    start_followup,
)
from defchain.firearms.watch import add_prohibition, lift_prohibition, on_watch

service.register()
watch.register()

__all__ = [
    "DECISION_LABELS",
    "ERPO_STAGE_LABELS",
    "STEP_LABELS",
    "Decision",
    "ErpoOrder",
    "ErpoStage",
    "FirearmIn",
    "FirearmPolicy",
    "FollowUp",
    "FollowUpKind",
    "FollowUpStatus",
    "FollowUpStep",
    "Prohibition",
    "ProhibitionKind",
    "Step",
    "SurrenderedFirearm",
    "add_firearms",
    "add_prohibition",
    "advance",
    "complete_step",
    "create_order",
    "dashboard",
    "decide",
    "erpo",
    "erpo_context",
    "followup_context",
    "lift_prohibition",
    "on_watch",
    "queries",
    "record_outcome",
    "record_surrender",
    "remind_expiring",
    "renew",
    "service",
    "set_policy",
    "set_return_date",
    "start_followup",
    "watch",
]
