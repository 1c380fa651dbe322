"""Tests for the pure domain: plans, events, state, rules (fast, no servers)."""
