# syntax=docker/dockerfile:1
# Two stages: the build stage has the dev dependencies (TypeScript) and compiles src/ to dist/;
# the runtime stage installs the production dependencies only, without install scripts (none
# of them has one; `prepare` would run tsc, which is not there), and copies dist/ in. No
# compiler, test tooling or npm cache reaches the final image.
#
# The image runs Node 24, an LTS line (supported until April 2028). Development and CI run
# Node 20, from the floor of package.json's engines (">=20.19"); test/unit/runtime/engines.test.ts
# checks that every package in package-lock.json accepts Node 20.19, that every production
# package accepts NODE_MAJOR below, and that engines accepts it too.
ARG NODE_MAJOR=24

FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# npm ci runs `prepare` (tsc -p tsconfig.build.json), which writes dist/
RUN npm ci --no-audit --no-fund

FROM node:${NODE_MAJOR}-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
EXPOSE 3000
USER node
CMD ["node", "dist/src/server.js"]
