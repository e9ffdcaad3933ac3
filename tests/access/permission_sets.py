"""Permission sets the role tests expect, written out once for test_rules and test_policy."""

from __future__ import annotations

from defchain.access.rules import Permission as P

# What every staff role may do with its own account and the directory.
STAFF = {
    P.ACCESS_ACCOUNT_MANAGE,
    P.ACCESS_AGENCY_READ,
    P.ACCESS_TEAM_READ,
    P.ACCESS_USER_READ,
    P.ACCESS_JURISDICTION_READ,
    P.REFERENCE_LAW_READ,
}
# What every role that works reports may do with them.
REPORTS = {P.INTAKE_REPORT_CREATE, P.INTAKE_REPORT_READ, P.INTAKE_REPORT_UPDATE}
# What every role that works reports may do in the person registry.
PEOPLE = {P.PEOPLE_PERSON_READ, P.PEOPLE_PERSON_UPDATE}
# Bulk loading: the roles that import reports also import persons.
IMPORTS = {P.INTAKE_REPORT_IMPORT, P.PEOPLE_PERSON_IMPORT}
# Triage decisions and the chain's breaks, for every role that works reports.
TRIAGE = {P.TRIAGE_REPORT_DECIDE, P.CHAIN_BREAK_READ}
# Cases (open, read, add tasks, notes, subjects) and recording an assessment, for every
# role that works reports.
CASES = {
    P.CASES_CASE_READ,
    P.CASES_CASE_CREATE,
    P.CASES_CASE_UPDATE,
    P.ASSESSMENT_ASSESSMENT_CREATE,
}
