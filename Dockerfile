# syntax=docker/dockerfile:1
# The worker's image: the supervisor, its actor threads and the admin API in one process.
#
#   docker build -t dbaas-worker .
#   docker run --rm -e REDIS_URL=redis://redis:6379/0 -e MONGODB_URL=mongodb://mongo/kubedb_dbaas \
#     -e ADMIN_HOST=0.0.0.0 -p 8080:8080 dbaas-worker
#
# ADMIN_HOST defaults to 127.0.0.1, which inside a container is unreachable from outside:
# set ADMIN_HOST=0.0.0.0 where Prometheus and the kubelet's probes must reach port 8080.

# --- build: compile TypeScript, then drop dev dependencies -----------------------------------
FROM node:20-slim AS build
WORKDIR /app

COPY package.json package-lock.json ./
# No install scripts: no runtime dependency needs one, and none should run at build time.
RUN npm ci --no-audit --no-fund --ignore-scripts

COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

# --- runtime ---------------------------------------------------------------------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app

COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Read at run time: the queue's Lua scripts (found from dist/src/shared/ as
# ../../../src/shared/lua) and KubeDB's CRDs (found as ../../../crds).
COPY src/shared/lua ./src/shared/lua
COPY crds ./crds

# Files stay owned by root: the worker can read its code but not change it.
USER node
EXPOSE 8080

# No HEALTHCHECK: orchestrators probe over HTTP themselves. Point liveness at GET /healthz
# and readiness at GET /readyz (503 until Redis, MongoDB and the actor pool are ready).

# Exec form, so node is PID 1 and receives SIGTERM itself: the supervisor's graceful
# shutdown hands unfinished operations back to the queue. It starts no child processes
# (actors are threads), so there are no zombies for an init to reap.
CMD ["node", "dist/src/cli.js", "start"]
