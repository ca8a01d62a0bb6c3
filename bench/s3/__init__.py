"""`python -m bench.run --s3`: Drift and the reference registry on one SeaweedFS (bench.s3.run)."""
