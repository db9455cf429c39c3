"""Database helpers of the base layer: COPY inserts, bulk updates, advisory locks."""
