"""File imports: CSV, XLSX and JSON customer and event files through the one pipeline.

``reading`` streams rows; ``layouts`` knows the vendors' export layouts and
``mapping`` decides which column feeds what; ``plan`` reads the file once
for what the columns hold (``cells``: types, date orders) and how many
records it has (``orders`` groups an order's rows); ``rows`` turns a record
into a normalized message (``consent_columns`` reads its consent);
``runner`` plans a job and queues its batches, ``batches`` applies one batch
(a Celery task on the ``imports`` queue), ``jobs`` is the service the admin, API and
command call, ``report`` writes the row-level error report and the mapping.
"""
