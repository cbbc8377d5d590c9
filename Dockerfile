# docpipe as a container: docker compose -f docker-compose-with-kafka.yaml up --build
# test/container.test.ts reproduces this build without Docker and runs what it ships.

# Runtime dependencies only; the Kafka client builds its bundled librdkafka against these
# system libraries. Its own stage, so that a change to the sources does not rebuild it.
FROM node:24-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libssl-dev libsasl2-dev \
    zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
ENV CKJS_LINKING=dynamic
RUN npm ci --omit=dev --no-audit --no-fund

# The compiler and the library's sources: what the package ships, nothing of the benchmarks or
# tests. No native module is needed to compile, so none is built here.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY pipeline ./pipeline
COPY operators ./operators
COPY sinks ./sinks
COPY bin ./bin
RUN npm run build

FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libsasl2-2 zlib1g libzstd1 liblz4-1 libcurl4 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The operations server (metrics.port, 9464 unless DOCPIPE_METRICS_PORT says otherwise).
EXPOSE 9464
# /healthz answers while the process lives. The slim image has no curl: Node asks. The port
# comes from the same variable docpipe reads; a port set only in a config file is not seen here.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.DOCPIPE_METRICS_PORT || 9464}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The image's own unprivileged user; the files stay root's, read-only to it.
USER node
# The docpipe command applies the memory bound and, as PID 1, holds SIGTERM until Node handles it.
ENTRYPOINT ["/app/bin/docpipe"]
CMD ["run"]
