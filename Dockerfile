# jobgroup's container image: jobgroupd (the server) and jobgroup (the CLI,
# also the HEALTHCHECK probe) on debian:bookworm-slim, run as a numeric
# non-root user under tini.
#
#   docker build -t jobgroup:dev .
#   buildah bud --format docker -t jobgroup:dev .   (HEALTHCHECK needs the
#                                                   docker format; OCI drops it)
# No Docker engine or registry at hand? tests/deploy/image_test.sh builds the
# debian base images locally and runs this build end to end (deploy/README.md).

# ---- build: the same dependency script as the README, then only the two
# binaries (no tests, no benchmarks) ----
FROM debian:bookworm AS build
ARG BUILD_JOBS=2
WORKDIR /src
# The dependency layer first, so that source changes do not reinstall it.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DJOBGROUP_TESTS=OFF -DJOBGROUP_BENCH=OFF \
 && cmake --build /build --target jobgroupd jobgroup -j "${BUILD_JOBS}" \
 && install -D -s -m 0755 /build/jobgroupd /out/jobgroupd \
 && install -D -s -m 0755 /build/client/jobgroup /out/jobgroup

# ---- runtime: shared libraries only ----
FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# The Debian packages that hold the libraries the two binaries link
# (tests/deploy/image_test.sh runs ldd in the image to keep this honest),
# tini as PID 1, and CA certificates for job kinds that fetch over HTTPS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
        libprometheus-cpp-core1.0 libcivetweb1 \
        libssl3 libcurl4 tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 jobgroup \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin jobgroup
COPY --from=build /out/jobgroupd /out/jobgroup /usr/local/bin/

# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
# 50051: gRPC (jobs and grpc.health.v1.Health); 9464: Prometheus /metrics.
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/jobgroup", "health", "--target", "127.0.0.1:50051"]
# tini is PID 1: it forwards SIGTERM to jobgroupd (which drains and exits 0)
# and reaps zombies; -s keeps reaping when it is not PID 1 (a pod sharing its
# process namespace). Arguments given to the container go to jobgroupd.
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/usr/local/bin/jobgroupd"]
CMD []

LABEL org.opencontainers.image.title="jobgroup" \
      org.opencontainers.image.description="gRPC job-processing service: batches of jobs run as task groups with deadlines, cancellation, backend semaphores and a bounded worker queue" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
