# The hub's image for docker-compose.yml: the package and its `sitn` command, nothing else.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub hub
COPY producers producers
COPY consumers consumers
COPY schemas schemas
RUN pip install --no-cache-dir .
ENV SITN_HOME=/var/lib/sitn
ENTRYPOINT []
