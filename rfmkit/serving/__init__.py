"""Serving (notebook 05): the SageMaker inference contract, the local endpoint, deployment, batch."""
