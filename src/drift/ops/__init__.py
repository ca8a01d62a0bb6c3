"""Operations: Prometheus metrics, the access log and the per-request instrumentation."""
