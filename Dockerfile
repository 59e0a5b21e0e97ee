# Recado: one image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECADO_VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system --gid 1000 recado \
 && useradd --system --uid 1000 --gid recado --home-dir /app --no-create-home --shell /usr/sbin/nologin recado

# Dependencies first, so code changes do not reinstall them. Only runtime packages; constraints.txt pins
# every transitive one exactly as tested.
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt

COPY . .
# Static files are hashed and compressed at build time. Settings refuse to load in production without
# their secrets, so the build passes throwaway values that exist only in this RUN step.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-not-a-secret-collectstatic-needs-a-value-0123456789 \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    FIELD_ENCRYPTION_KEY=YnVpbGQtb25seS1ub3QtYS1yZWFsLWtleS0zMmJ5dGU= \
    ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput -v 0 \
 # Babel compiles the pt-BR catalogue; no GNU gettext in the image.
 && if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1; then pybabel -q compile -d locale -D django; fi \
 && mkdir -p /app/var/media \
 && chown -R recado:recado /app/var

USER recado
EXPOSE 8000
# Web by default; docker-compose.yml runs the worker and beat from this image with their own commands.
# No per-message deflate: the live fragments are small, and compressing each one once per open socket was a
# third of the server's event loop under load (docs/performance.md, Live).
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws-per-message-deflate", "false"]
