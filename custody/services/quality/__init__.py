"""Quality: release specifications, QC results, each lot's quality record, QA's signed
disposition and whether its signature still holds, certificates of analysis, quality alerts."""
