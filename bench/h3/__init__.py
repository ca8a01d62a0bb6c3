"""`python -m bench.run --h3`: Drift's HTTP/3 listener against a minimal aioquic server, beside
Drift's HTTPS/1.1, at the standard and the largest datagram size (bench.h3.run)."""
