"""modelgroups."""
