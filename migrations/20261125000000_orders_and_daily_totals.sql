-- The order service's state when it runs as several replicas: each order's record, and the
-- day's totals. Money is integer cents; a day is its UTC date, 'YYYY-MM-DD'.

CREATE TABLE orders (
    id           BIGINT      PRIMARY KEY,
    customer_id  BIGINT      NOT NULL,
    amount_cents BIGINT      NOT NULL CHECK (amount_cents > 0),
    priority     BOOLEAN     NOT NULL DEFAULT false,
    state        TEXT        NOT NULL CHECK (state IN ('processing', 'done')),
    -- The answer the order got (an OrderResponse as JSON), once done.
    response     TEXT,
    -- When the order was last claimed by a replica for charging.
    claimed_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE daily_totals (
    day           TEXT   PRIMARY KEY,
    revenue_cents BIGINT NOT NULL,
    order_count   BIGINT NOT NULL
);
