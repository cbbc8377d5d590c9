# docpipe as a container: docker compose -f docker-compose-with-kafka.yaml up --build
FROM node:20-bookworm-slim AS build
# The Kafka client builds its bundled librdkafka against these system libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libssl-dev libsasl2-dev \
    zlib1g-dev libzstd-dev liblz4-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
ENV CKJS_LINKING=dynamic
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY pipeline ./pipeline
COPY operators ./operators
COPY sinks ./sinks
COPY bench ./bench
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libsasl2-2 zlib1g libzstd1 liblz4-1 libcurl4 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER node
ENTRYPOINT ["/app/bin/docpipe"]
CMD ["run"]
