# Multi-stage build on the official Bun image: production dependencies only, non-root user.
# BUN_IMAGE lets a build use another image with Bun 1.4.5 on it (one built from Debian packages
# where no registry of images is reachable).
ARG BUN_IMAGE=oven/bun:1.4.5
ARG BUN_RUNTIME_IMAGE=oven/bun:1.4.5-slim

FROM ${BUN_IMAGE} AS deps
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production

FROM ${BUN_RUNTIME_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production PORT=3000
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock tsconfig.json bunfig.toml ./
COPY src ./src
COPY db ./db
USER bun
EXPOSE 3000
# Ready means the database answers: an orchestrator sends traffic only then.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bun", "-e", "const r = await fetch('http://127.0.0.1:' + (process.env.PORT ?? 3000) + '/readyz'); process.exit(r.ok ? 0 : 1)"]
# Bun itself as PID 1 (not `bun run start`, which would stand between the signal and the
# server): SIGTERM reaches the server, which drains and exits within 10 s. It migrates at
# start-up too; under compose the migrate service has done it already.
CMD ["bun", "src/index.ts"]
