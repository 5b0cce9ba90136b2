"""Monitoring what is served: drift and performance per window of captured traffic, their reports,
Prometheus metrics, scheduled checks and the retraining a drift or a quality drop triggers."""
