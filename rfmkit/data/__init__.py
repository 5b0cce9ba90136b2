"""Data for the workshop: the Olist schema and readers, the synthetic generator, quality checks."""
