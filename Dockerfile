# The API image. Build stage: all dependencies and the TypeScript compiler. Runtime stage: the
# compiled code and production dependencies only, run as the unprivileged `node` user.
#
# The base follows Node.js 20.x to pick up security releases; pin a digest
# (node:20-bookworm-slim@sha256:…) when builds must be byte-for-byte reproducible.

FROM node:20-bookworm-slim AS build
WORKDIR /app

# Manifests first, so the dependency layer is rebuilt only when they change. npm ci needs every
# workspace's package.json, even of workspaces the image does not ship.
COPY package.json package-lock.json .npmrc ./
COPY packages/testkit/package.json packages/testkit/
COPY packages/observability/package.json packages/observability/
COPY apps/api/package.json apps/api/
COPY monitoring/package.json monitoring/
COPY deploy/kubernetes/package.json deploy/kubernetes/
COPY viewer/package.json viewer/
RUN npm ci

COPY tsconfig.base.json tsconfig.json ./
COPY packages/testkit packages/testkit
COPY packages/observability packages/observability
COPY apps/api apps/api
# Builds the API and, through its project references, the observability package (and the test kit
# its tests use; neither the tests nor the kit are shipped).
RUN npx tsc -b apps/api \
 && npm prune --omit=dev


FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app

# Owned by root and read-only for the process: a compromised API cannot rewrite its own code.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/observability/package.json packages/observability/
COPY --from=build /app/packages/observability/dist packages/observability/dist
COPY --from=build /app/apps/api/package.json apps/api/
COPY --from=build /app/apps/api/dist apps/api/dist

# The only writable place: the embedded database and the development mailbox when no
# PostgreSQL or SMTP server is configured. A volume mounted here inherits this ownership.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]

USER node
EXPOSE 3000
# The package's entry point (its "main"), not a path inside its build output.
CMD ["node", "apps/api"]
