# The interviewer's images: the services in the buggy or the fixed build (with the Postgres
# store, for the replicas profile), and the harness for the demo. docker-compose.override.yml points the compose services here; the
# candidate's crate has only ../Dockerfile, which builds what it is given.
#
#   docker compose up --build                          the buggy build
#   VARIANT=fixed docker compose up --build            the reference fix
#   docker compose --profile demo run --rm demo        the symptom report

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /app
ENV CARGO_TERM_COLOR=never
COPY . .
ARG VARIANT=buggy
RUN case "$VARIANT" in \
      buggy) set -- ;; \
      fixed) set -- --features fixed ;; \
      *) echo "VARIANT must be buggy or fixed, not $VARIANT" >&2; exit 1 ;; \
    esac \
    && cargo build --release --locked --workspace --bins --features postgres "$@" \
    && cargo test --locked --no-run "$@"

FROM build AS dev
ENV ORDERS_ADDR=0.0.0.0:8000
EXPOSE 8000
CMD ["/app/target/release/order-service"]

FROM ${RUNTIME_IMAGE} AS runtime
RUN useradd --system --uid 10001 app && mkdir -p /home/app && chown app /home/app
COPY --from=build /app/target/release/order-service /app/target/release/balance-service /app/target/release/exercise /usr/local/bin/
USER app
WORKDIR /home/app
ENV ORDERS_ADDR=0.0.0.0:8000 BALANCE_ADDR=0.0.0.0:8001
CMD ["order-service"]
