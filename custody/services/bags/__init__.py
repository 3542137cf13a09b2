"""Bags: everything that happens to a bag by scan, and how a bag is found and described.

Finding what a scan or a code names (`lookup`), moving a bag by the life-cycle table
(`moves`, `scans`), storage positions (`storage`), shipments (`shipping`, `shipment_queries`),
thawing (`thawing`), the read models of bags (`queries`) and of whatever the scan station was
shown (`scan_station`), and whether a recall stops a lot's bags (`recall_status`).
"""
