"""Service tests, one package per service context of custody/services: core, audit, collection,
bags, quality, manufacturing, labelling, clinic, traceability and demo."""
