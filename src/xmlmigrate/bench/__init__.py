"""Measuring the migration: throughput against the hardware's reference, run statistics."""
