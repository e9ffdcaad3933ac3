"""Defense Chain."""
