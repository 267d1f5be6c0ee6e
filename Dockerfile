# The order service and the balance service, in containers.
#
#   docker compose up --build                        the services (see docker-compose.yml)
#   docker compose run --rm app cargo test           the tests, in the toolchain stage
#
# Stages: `manifests` keeps only the workspace's Cargo.toml files and Cargo.lock, so that
# `deps` (every dependency, compiled against stand-in sources) is rebuilt only when they
# change; `build` compiles the services; `dev` keeps the toolchain and the source (the `app`
# service runs it, so cargo test and cargo clippy work in it); `runtime` is a slim, non-root
# image with the binaries only.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -path ./target -prune -o -type f ! -name Cargo.toml ! -name Cargo.lock -print0 \
    | xargs -0 rm -f

FROM ${RUST_IMAGE} AS deps
WORKDIR /app
ENV CARGO_TERM_COLOR=never
COPY --from=manifests /app ./
# A stand-in library and binary in every crate of the workspace, so cargo builds every
# dependency (release for the binaries, debug for the tests) without the real source.
RUN for manifest in $(find . -name Cargo.toml); do \
      crate=$(dirname "$manifest") && mkdir -p "$crate/src" \
      && echo 'fn main() {}' > "$crate/src/main.rs" && touch "$crate/src/lib.rs"; \
    done \
    && cargo build --release --locked --workspace --bins \
    && cargo test --locked --workspace --no-run \
    && find . -name src -type d -prune -exec rm -rf {} +

FROM deps AS build
COPY . .
# Newer than the stand-ins' outputs, so cargo rebuilds the real crates (it compares
# modification times).
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --workspace --bins

FROM build AS dev
# The tests built from the real source too: docker-compose.override.yml mounts the source
# over /app, with files older than these builds, and cargo would take the stand-ins' test
# builds for current.
RUN cargo test --locked --workspace --no-run
ENV ORDERS_ADDR=0.0.0.0:8000
EXPOSE 8000
CMD ["/app/target/release/order-service"]

FROM ${RUNTIME_IMAGE} AS runtime
RUN useradd --system --uid 10001 --no-create-home app \
    && mkdir /var/lib/order-service && chown app /var/lib/order-service
COPY --from=build /app/target/release/order-service /app/target/release/balance-service /usr/local/bin/
USER app
# The order service saves today's totals in its working directory.
WORKDIR /var/lib/order-service
ENV ORDERS_ADDR=0.0.0.0:8000 BALANCE_ADDR=0.0.0.0:8001
EXPOSE 8000 8001
CMD ["order-service"]
