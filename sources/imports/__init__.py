"""File imports: CSV, XLSX and JSON customer and event files through the one pipeline.

``reading`` streams rows, ``mapping`` decides which column feeds what,
``rows`` turns a row into a normalized message, ``runner`` runs a job in
batches, ``jobs`` is the service the admin, API and command call, ``report``
writes the row-level error report.
"""
