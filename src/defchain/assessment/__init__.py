"""Assessment: versioned instruments as data, pure scoring, immutable assessments."""
