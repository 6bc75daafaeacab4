"""Benchmark harnesses for Lantian: `python -m bench.ingest` (MQTT ingest) and
`python -m bench.hj212` (HJ 212 decode). See bench/README.md. Not part of the service."""
