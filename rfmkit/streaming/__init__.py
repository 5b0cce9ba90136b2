"""Stream scoring on the Kinesis API: a producer, a checkpointing consumer, a Lambda handler, and
the local Kinesis-API server the kit starts offline."""
