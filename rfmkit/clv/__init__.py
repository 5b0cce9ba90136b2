"""Customer value for non-contractual (retail) data: P(alive), expected purchases, spend, CLV.

summary (SQL per customer) → models (BG/NBD family and Gamma-Gamma, fitted with pymc-marketing)
→ value (the customer_value table) → validation (hold-out checks and figures) → alerts.
"""
