# The assistant's image: one image, one process per container (deploy/docker-compose.yml picks
# the command). The model is trained at build time, so it always matches the code and data.
# Not built in CI (these machines have no Docker): tests/test_deploy_compose.py checks the
# compose file's structure and that every command it runs exists in this project.
FROM python:3.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 clinicbot

WORKDIR /app

# Dependencies first: they change less often than the code (layer cache).
COPY pyproject.toml README.md ./
COPY clinicbot/__init__.py clinicbot/__init__.py
COPY actions/__init__.py actions/__init__.py
RUN pip install --no-cache-dir "pip<24.1" wheel && pip install --no-cache-dir .

COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && rasa train --force --fixed-model-name clinicbot --out models \
    && mkdir -p var && chown -R clinicbot:clinicbot /app/var /app/models

USER clinicbot
# The command comes from docker-compose.yml (rasa, action server, clinic service, migrations).
CMD ["python", "-m", "clinicbot.web", "--host", "127.0.0.1", "--port", "8000"]
