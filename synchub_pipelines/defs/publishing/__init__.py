"""Publishing: the central catalog written to every marketplace (issue 16)."""
