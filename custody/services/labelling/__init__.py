"""Labelling: which template versions may print (`templates`), what each label says
(`contents`), issuing, applying, reprinting and voiding labels (`prints`), and print jobs by
what people name, with a lot's reconciliation (`jobs`)."""
