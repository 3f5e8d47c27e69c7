# The Python 3.11 side: gateway (+ admin), action server, notifier, retention job, migrations, index build.
# Build from the repo root: docker build -f deploy/Dockerfile.app -t tthc-app .
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TTHC_DATA_DIR=/data OMP_NUM_THREADS=1
RUN apt-get update && apt-get install -y --no-install-recommends curl espeak-ng && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/app.lock requirements/app.lock
# torch first, the CPU build (a resolver left alone pulls a CUDA build); then the complete lock, no resolver.
RUN pip install --no-cache-dir "pip==$(grep -E '^pip==' requirements/app.lock | cut -d= -f3)" \
 && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-cache-dir --no-deps -r requirements/app.lock
COPY common common
COPY knowledge knowledge
COPY dossier dossier
COPY desk desk
COPY bot bot
COPY admin admin
COPY connectors connectors
COPY migrations migrations
RUN useradd --system --uid 10001 --home /data tthc && mkdir -p /data && chown tthc /data
USER tthc
EXPOSE 8080 5055
CMD ["python", "-m", "connectors"]
