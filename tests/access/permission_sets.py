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
}
# What every role that works reports may do with them.
REPORTS = {P.INTAKE_REPORT_CREATE, P.INTAKE_REPORT_READ, P.INTAKE_REPORT_UPDATE}
