FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
# The locked dependencies first (hash-checked; no dev or embedded extra), so that a change of
# code alone reuses this layer; then the project itself without dependencies.
COPY requirements/main.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/main.txt
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && pip check
COPY alembic.ini ./
COPY migrations ./migrations
# Everything above belongs to root; the service runs as a user that can change none of it
# (numeric, so an orchestrator can see it is not root).
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin seven
USER 10001:10001
EXPOSE 8000
# The README's production API command.
CMD ["uvicorn", "app.asgi:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log", "--timeout-graceful-shutdown", "20"]
