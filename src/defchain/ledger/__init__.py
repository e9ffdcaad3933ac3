"""The chain ledger: every link a report or case must pass, its deadline, and its breaks."""

from defchain.ledger.models import ChainAlert, ChainLink

__all__ = ["ChainAlert", "ChainLink"]
