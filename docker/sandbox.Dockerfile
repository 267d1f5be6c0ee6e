# The image a grade in Docker runs in (`cargo exercise grade --sandbox docker`): Debian
# bookworm with a C toolchain to link with, bubblewrap for the sandbox nested inside, and
# procps (the harness stops process groups with kill). The Rust toolchain, the cargo
# registry and the harness are the grading machine's, mounted read-only at their own paths,
# so builds share its target directories.
#
#   scripts/sandbox-setup --docker      builds it (and the base image, where no registry is reachable)

ARG RUNTIME_IMAGE=debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       bubblewrap ca-certificates gcc git libc6-dev procps \
    && rm -rf /var/lib/apt/lists/*
