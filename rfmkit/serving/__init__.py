"""Serving (notebook 06): the SageMaker inference contract, the local endpoint, deployment, batch."""
