"""Exporting a period's points transactions: the service (start, wait, download), the assembly
of the downloaded files, and the tolerant reader of the CSV."""
