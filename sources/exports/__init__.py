"""Exports of customer lists to CSV and XLSX, escaped against formula injection."""
