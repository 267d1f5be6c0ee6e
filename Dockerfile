# The order service and the balance service, in containers.
#
#   docker compose up --build                        the services (see docker-compose.yml)
#   docker compose run --rm app cargo test           the tests, in the toolchain stage
#
# Stages: `deps` compiles the dependencies alone, so that layer survives source changes;
# `build` compiles the service; `dev` keeps the toolchain and the source (the `app`
# service runs it, so cargo test and cargo clippy work in it); `runtime` is a slim,
# non-root image with the binaries only.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS deps
WORKDIR /app
ENV CARGO_TERM_COLOR=never
COPY Cargo.toml Cargo.lock ./
# Stand-in sources with the real targets' names, so cargo builds every dependency (release
# for the binaries, debug for the tests) without the real source.
RUN mkdir -p src/bin \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > src/bin/balance-service.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && cargo test --locked --no-run \
    && rm -rf src

FROM deps AS build
COPY . .
# -- interviewer only: `exercise export` leaves this block out of the candidate's crate --
# VARIANT=fixed builds the reference fix.
ARG VARIANT=buggy
RUN case "$VARIANT" in \
      buggy) : > /tmp/cargo-build-flags ;; \
      fixed) echo "--features fixed" > /tmp/cargo-build-flags ;; \
      *) echo "VARIANT must be buggy or fixed, not $VARIANT" >&2; exit 1 ;; \
    esac
# -- end interviewer only --
# Touch the sources so cargo rebuilds over the stand-ins' outputs (it compares modification
# times), then build, with any extra flags an earlier step left in /tmp/cargo-build-flags.
RUN touch src/lib.rs src/main.rs \
    && cargo build --release --locked $(cat /tmp/cargo-build-flags 2>/dev/null)

FROM build AS dev
ENV ORDERS_ADDR=0.0.0.0:8000
EXPOSE 8000
CMD ["/app/target/release/order-service"]

FROM ${RUNTIME_IMAGE} AS runtime
RUN useradd --system --uid 10001 --no-create-home app
COPY --from=build /app/target/release/order-service /app/target/release/balance-service /usr/local/bin/
# -- interviewer only: `exercise export` leaves this block out of the candidate's crate --
COPY --from=build /app/target/release/exercise /usr/local/bin/
# -- end interviewer only --
USER app
ENV ORDERS_ADDR=0.0.0.0:8000 BALANCE_ADDR=0.0.0.0:8001
EXPOSE 8000 8001
CMD ["order-service"]
