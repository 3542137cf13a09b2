"""Clinic: the trial as configuration, recipients and their schedule, follow-up samples, the
clinic dashboard, allocating bags to recipients, two-person bedside verification and the
infusion record."""
