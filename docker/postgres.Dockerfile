# Postgres for the replicas profile, from Debian's packages (no image registry is needed
# beyond the Debian base): a database `orders` owned by the role `orders` (password
# `orders`), listening on the compose network.

ARG RUNTIME_IMAGE=debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && version=$(ls /usr/lib/postgresql) \
    && conf=/etc/postgresql/$version/main \
    && echo "listen_addresses = '*'" >> $conf/postgresql.conf \
    && echo "host all all 0.0.0.0/0 scram-sha-256" >> $conf/pg_hba.conf \
    && service postgresql start \
    && su postgres -c "psql -qc \"create role orders login createdb password 'orders'\"" \
    && su postgres -c "createdb --owner orders orders" \
    && service postgresql stop \
    && ln -s /usr/lib/postgresql/$version/bin/postgres /usr/local/bin/postgres \
    && ln -s /var/lib/postgresql/$version/main /var/lib/postgresql/data \
    && ln -s $conf/postgresql.conf /etc/postgresql/postgresql.conf
USER postgres
EXPOSE 5432
CMD ["postgres", "-D", "/var/lib/postgresql/data", "-c", "config_file=/etc/postgresql/postgresql.conf"]
