# syntax=docker/dockerfile:1
#
# wasm-admission container image. Building it needs a container engine (docker/podman/buildah):
#   docker build -t wasm-admission:dev .
#
# Base images are pinned through build arguments. The defaults pin exact, non-moving release tags;
# release CI resolves them to digests and passes them in, e.g.
#   --build-arg NODE_IMAGE=docker.io/library/node:24.21.0-bookworm-slim@sha256:<digest>
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:<digest>
# (verify distroless with `cosign verify`). Never use :latest.
ARG NODE_IMAGE=docker.io/library/node:24.21.0-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# --- build: all dependencies (TypeScript compiler), compile src/ to dist/src/ -----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The policy schema's one copy lives in the chart's values.schema.json (src/policy/schema.ts).
COPY charts/wasm-admission/values.schema.json ./charts/wasm-admission/
RUN npm run build

# --- prod-deps: production dependencies only (no tap, tsx, typescript, @types) ----------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force \
  && rm -rf node_modules/@types

# --- runtime: distroless Node 24, no shell, no package manager, non-root -------------------------
FROM ${RUNTIME_IMAGE}
# The nonroot base runs as 65532, and WORKDIR creates the directory as the current user: switch to
# root first so /app itself, not only the files in it, is owned by root.
USER 0:0
WORKDIR /app
ENV NODE_ENV=production
# V8 heap defaults that keep the webhook near 150 MB RSS at 5,000 nodes (docs/benchmarks.md). The same
# string is the chart's deployment.nodeOptions default (test/dockerfile.test.ts keeps them equal);
# override with -e NODE_OPTIONS=... or the chart value.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=256"
# glibc malloc: two arenas instead of one per thread, and fixed mmap/trim thresholds so freed large
# buffers go back to the system; the chart's deployment.mallocEnv default is the same (test/dockerfile.test.ts).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
# Files stay owned by root and read-only for the process (the chart also sets readOnlyRootFilesystem).
COPY package.json ./
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/charts ./dist/charts
# 65532 = "nonroot" in distroless.
USER 65532:65532
EXPOSE 8443 8080
# The distroless entrypoint is node; exec form so node is PID 1 and receives SIGTERM directly
# (the serve command drains: /readyz goes unready, then the listeners close).
CMD ["dist/src/cli.js", "serve"]
