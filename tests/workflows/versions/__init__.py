"""Earlier versions of the engagement workflow, kept to test upgrades of running engagements."""
