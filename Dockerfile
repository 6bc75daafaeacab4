# Lantian service image. Config is mounted from outside at /etc/lantian (config/ of this
# repo is a working example); data (SQLite store) lives in the /var/lib/lantian volume.
#   docker build -t lantian .
#   docker run -v $PWD/config:/etc/lantian:ro -e LANTIAN_MQTT_URL=mqtt://broker:1883 -p 8080:8080 lantian
# On PostgreSQL, -e LANTIAN_STORE_URL=postgresql://lantian:PASSWORD@db:5432/lantian: the
# driver (psycopg[binary]) carries its own libpq, so the image needs nothing more.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/lantian
COPY pyproject.toml README.md ./
COPY lantian ./lantian
COPY ingest ./ingest
COPY rules ./rules
COPY dispatch ./dispatch
RUN /opt/lantian/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/lantian --create-home lantian
COPY --from=build /opt/lantian /opt/lantian
ENV PATH=/opt/lantian/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LANTIAN_CONFIG=/etc/lantian \
    LANTIAN_STORE_URL=sqlite:////var/lib/lantian/lantian.sqlite \
    LANTIAN_HTTP=0.0.0.0:8080
USER lantian
WORKDIR /var/lib/lantian
VOLUME ["/var/lib/lantian"]
EXPOSE 8080
# the port from LANTIAN_HTTP, so that moving the service to another port keeps it healthy
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('LANTIAN_HTTP', '').rpartition(':')[2] or '8080'; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["lantian"]
CMD ["run"]
