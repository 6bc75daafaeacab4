"""What happens after an alert is raised: routing, lifecycle, SLA, store, API (issue 4)."""
