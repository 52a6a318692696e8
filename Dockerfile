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
EXPOSE 8000
CMD ["uvicorn", "app.asgi:app", "--host", "0.0.0.0", "--port", "8000"]
