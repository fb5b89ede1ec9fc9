# Motcua application image: the API (`motcua serve`), the workers (`motcua worker`) and the init job
# (`motcua init`) all run from it; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# Only the project's own sources (no .venv, var/ or tests in the image).
COPY pyproject.toml README.md ./
COPY motcua ./motcua
COPY dossiers ./dossiers
COPY workflows ./workflows
COPY workers ./workers
COPY signing ./signing
COPY storage ./storage
COPY api ./api
COPY documents ./documents
COPY persistence ./persistence
COPY integrations ./integrations
COPY services ./services

# pyproject declares everything production needs: psycopg (MOTCUA_DATABASE_URL=postgresql+psycopg://…),
# minio, and camunda-external-task-client-python3 for the workers on Operaton.
RUN pip install .

RUN useradd --system --uid 10001 --home-dir /var/lib/motcua --create-home motcua \
    && chown motcua /var/lib/motcua

USER motcua

ENV MOTCUA_HOST=0.0.0.0 \
    MOTCUA_PORT=8000 \
    MOTCUA_VAR_DIR=/var/lib/motcua

EXPOSE 8000

CMD ["motcua", "serve"]
