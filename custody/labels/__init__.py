"""The label renderer: templates as data (checked on load), drawn as PDF and ZPL, with ISBT 128
symbols that decode to what the records hold."""
