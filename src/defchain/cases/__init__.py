"""Cases: subjects, one lead, tasks and notes (public API of the cases domain)."""
