"""Lantian's composition root: settings, wiring, the `lantian` command. No business logic."""
