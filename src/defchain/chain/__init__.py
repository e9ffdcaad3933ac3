"""The chain: the flow after receipt (link, triage, route) and the sweep over breaks."""
