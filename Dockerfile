# syntax=docker/dockerfile:1
# Drift in a container: `docker build -t drift .` then
# `docker run -p 5000:5000 -p 5001:5001 -p 4433:4433/udp -v drift-data:/data drift`.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/drift
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/drift/bin/pip install .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 drift \
    && useradd --system --uid 10001 --gid drift --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin drift \
    && mkdir /data \
    && chown drift:drift /data
COPY --from=builder /opt/drift /opt/drift
ENV PATH=/opt/drift/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DRIFT_FS_ROOT=/data
WORKDIR /data
VOLUME ["/data"]
USER drift
# Registry API, web console, HTTP/3.
EXPOSE 5000 5001 4433/udp
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4)"]
ENTRYPOINT ["drift"]
CMD ["serve"]
