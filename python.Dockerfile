# The API image; also runs the one-shot `migrate` and `secrets` services.
# No `# syntax=` line: the builder's built-in frontend handles every
# instruction here, and an external one would be fetched from a registry.

# Slim Debian image of a supported Python, pinned to the patch release
# (docker-library/python versions.json: 3.13.14, slim-trixie), and by digest
# so a rebuilt tag cannot change it unseen. An argument only so that the
# offline engine tests can build from a stand-in (tests/engine/).
ARG PYTHON_IMAGE=python:3.13.14-slim-trixie@sha256:6771159cd4fa5d9bba1258caf0b82e6b73458c694d178ad97c5e925c2d0e1a91
FROM ${PYTHON_IMAGE}

# No .pyc written at run time (code is read-only), logs unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A system user with no home and no login shell runs the app (CIS 4.1).
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /srv

# Dependencies first, in their own cached layer: only wheels, exact versions
# and hashes (requirements.txt), so no compiler is needed in the image. pip
# compiles them to bytecode here: the root filesystem is read-only at run
# time, and without .pyc files every process would recompile its imports.
COPY requirements.txt ./
RUN pip install --only-binary=:all: --require-hashes -r requirements.txt

# Code and SQL scripts stay owned by root: the app cannot rewrite itself.
COPY app/ ./app/
COPY sqlfiles/ ./sqlfiles/

# The app's bytecode, compiled now for the same reason as the dependencies'.
# Mount point of the `secrets` volume: an empty named volume takes this
# directory's ownership on first mount, so the non-root `secrets` service can
# write there (Docker docs, "Populate a volume using a container").
RUN python -m compileall -q app \
    && install --directory --owner app --group app --mode 0755 /run/dashboard-secrets

# Numeric, so Kubernetes' runAsNonRoot and `docker inspect` can verify it.
USER ${APP_UID}:${APP_UID}

ENV SQL_DIR=/srv/sqlfiles

EXPOSE 8000

# Liveness without curl: the standard library is enough.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# Exec form: Python is PID 1 and receives SIGTERM. app.serve starts uvicorn
# from the settings (API_WORKERS, API_PORT).
CMD ["python", "-m", "app.serve"]
