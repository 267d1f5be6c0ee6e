# Postgres for the replicas profile, from Debian's packages (no image registry is needed
# beyond the Debian base): a database `orders` owned by the role `orders` (password
# `orders`), listening on the compose network on 5432. Set up over the Unix socket only: a
# build with host networking must not touch, or be moved off 5432 by, a Postgres on the host.

ARG RUNTIME_IMAGE=debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && version=$(ls /usr/lib/postgresql) \
    && conf=/etc/postgresql/$version/main \
    && printf "listen_addresses = '*'\nport = 5432\n" >> $conf/postgresql.conf \
    && echo "host all all 0.0.0.0/0 scram-sha-256" >> $conf/pg_hba.conf \
    && pg_ctlcluster $version main start -- -o "-c listen_addresses=''" \
    && su postgres -c "psql -qc \"create role orders login createdb password 'orders'\"" \
    && su postgres -c "createdb --owner orders orders" \
    && pg_ctlcluster $version main stop \
    && ln -s /usr/lib/postgresql/$version/bin/postgres /usr/local/bin/postgres \
    && ln -s /var/lib/postgresql/$version/main /var/lib/postgresql/data \
    && ln -s $conf /etc/postgresql/main
USER postgres
EXPOSE 5432
# The cluster's own configuration directory, linked without its version: its
# postgresql.conf includes conf.d relative to where it is read from.
CMD ["postgres", "-D", "/var/lib/postgresql/data", "-c", "config_file=/etc/postgresql/main/postgresql.conf"]
