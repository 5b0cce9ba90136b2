"""Churn modelling (notebook 04): datasets → leakage guard → training → evaluation → registry."""
