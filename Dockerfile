FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
# The locked dependencies first (hash-checked; no dev or embedded extra), so that a change of
# code alone reuses this layer; then the project itself without dependencies. Only app and
# workers are copied, so the install holds only them: the development packages dev and
# sandbox stay out.
COPY requirements/main.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/main.txt
COPY pyproject.toml README.md ./
COPY app ./app
COPY workers ./workers
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && pip check
# Every file belongs to root (COPY's default); the processes run as a user that can change
# none of them (numeric, so an orchestrator can see it is not root).
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin seven
USER 10001:10001

# seven's imitation, for docker-compose.yml (build target sandbox, which gives the command):
# a development tool, so a stage of its own and not part of the service's image below.
FROM base AS sandbox
COPY sandbox ./sandbox
EXPOSE 8080

# The service: the default target, being the last stage.
FROM base AS service
COPY alembic.ini ./
COPY migrations ./migrations
EXPOSE 8000
# The README's production API command.
CMD ["uvicorn", "app.serve:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log", "--timeout-graceful-shutdown", "20"]
