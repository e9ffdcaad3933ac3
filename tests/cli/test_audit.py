"""``defchain audit verify``: a clean chain passes, a tampered one fails."""

from __future__ import annotations

import sqlite3

import pytest

from defchain.audit import AuditEvent
from tests.cli.conftest import Seeded


def test_audit_verify_passes_on_a_clean_database(seeded: Seeded) -> None:
    result = seeded.cli.run("audit", "verify")

    assert result.exit_code == 0, result.output
    # The demo's places, people and team (15 events), its reports (35 more), linking their
    # subjects to the person registry (32 more: persons created, links, a review), three
    # routing rules, a triage suggestion per report (22), and the routing rules' hand-offs
    # to the school district and behavioral health (7) with their info copies (7); the
    # demo case (18: opened, a note, two assessments, their concern updates, 8 gap tasks
    # added and 3 of them answered by the reassessment, and the subject's firearm access
    # the first assessment wrote back); the firearm follow-ups of the three linked denials
    # and purchase attempts (3); the demo ERPO (7: opened, five stages, the prohibition
    # its final order puts the person under).
    assert "Events checked: 149" in result.output
    assert seeded.cli.count(AuditEvent) == 149
    assert "OK" in result.output


def test_audit_verify_fails_after_a_row_is_edited_behind_the_application(
    seeded: Seeded,
) -> None:
    seeded.cli.engine.dispose()
    with sqlite3.connect(seeded.cli.path) as raw:
        # The append-only triggers stop a plain UPDATE ...
        with pytest.raises(sqlite3.DatabaseError):
            raw.execute("UPDATE audit_events SET actor_label = 'nobody' WHERE seq = 3")
        # ... so an attacker with the file drops them first.
        raw.execute("DROP TRIGGER audit_events_no_update")
        raw.execute("DROP TRIGGER audit_events_no_delete")
        raw.execute("UPDATE audit_events SET actor_label = 'nobody' WHERE seq = 3")
    raw.close()

    result = seeded.cli.run("audit", "verify")

    assert result.exit_code == 1
    assert "content does not match its hash" in result.output
    problem_rows = [line for line in result.output.splitlines() if "content does not match" in line]
    assert len(problem_rows) == 1
    assert problem_rows[0].split("│")[1].strip() == "3"


def test_audit_verify_reports_a_deleted_row(seeded: Seeded) -> None:
    seeded.cli.engine.dispose()
    with sqlite3.connect(seeded.cli.path) as raw:
        raw.execute("DROP TRIGGER audit_events_no_delete")
        raw.execute("DELETE FROM audit_events WHERE seq = 5")
    raw.close()

    result = seeded.cli.run("audit", "verify")

    assert result.exit_code == 1
    assert "sequence jumps from 4 to 6" in result.output


def test_audit_verify_with_a_noted_head_catches_a_cut_off_tail(seeded: Seeded) -> None:
    first = seeded.cli.run("audit", "verify")
    head = next(
        line.split(":", 1)[1].strip()
        for line in first.output.splitlines()
        if line.startswith("Head hash:")
    )
    assert seeded.cli.run("audit", "verify", "--expect-head", head).exit_code == 0
    seeded.cli.engine.dispose()
    with sqlite3.connect(seeded.cli.path) as raw:
        raw.execute("DROP TRIGGER audit_events_no_delete")
        raw.execute("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)")
    raw.close()

    assert seeded.cli.run("audit", "verify").exit_code == 0  # the chain alone looks fine
    result = seeded.cli.run("audit", "verify", "--expect-head", head)
    assert result.exit_code == 1
    assert "no longer in the chain" in result.output
