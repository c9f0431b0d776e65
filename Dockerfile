# driftloop's image: the model server, the workflow steps and the monitor all run it.
#   docker build -t ghcr.io/driftloop/driftloop:0.1.0 --build-arg GIT_SHA=$(git rev-parse HEAD) .
# Two stages: the first builds a virtualenv with the runtime dependencies only (`pip install .`, no dev
# extra); the second copies that virtualenv onto a clean slim base, so no pip cache, build backend or
# compiler is left in the image. The user is numeric (10001) so `runAsNonRoot` can be verified by the
# kubelet; the root filesystem may be read-only (no .pyc writes; scratch goes to the /tmp emptyDir).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/driftloop
WORKDIR /src
COPY pyproject.toml README.md ./
COPY driftloop ./driftloop
COPY monitors ./monitors
COPY sensors ./sensors
COPY workflows ./workflows
# the wheel force-includes manifests/ (pyproject.toml: tool.hatch.build.targets.wheel.force-include)
COPY manifests ./manifests
RUN /opt/driftloop/bin/pip install .

FROM python:3.11-slim-bookworm
ARG GIT_SHA=""
ENV PATH=/opt/driftloop/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    GIT_SHA=$GIT_SHA
RUN groupadd --gid 10001 driftloop \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin driftloop
COPY --from=build /opt/driftloop /opt/driftloop
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["driftloop"]
CMD ["--help"]
