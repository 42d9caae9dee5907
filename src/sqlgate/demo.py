"""The demo dataset behind ``sqlgate serve --demo``: a small, realistic online shop.

Everything is generated locally in DuckDB SQL, so nothing is downloaded; scale 1 builds in well
under a second. Randomness comes from ``hash()`` of row ids and fixed salts, not ``random()``:
``random()`` draws depend on how DuckDB splits work between threads, while a hash of an id is
the same on every run, machine and thread count. Arithmetic on those draws sticks to integers,
decimals, ``+ - * /`` and ``sqrt`` (all exact or correctly rounded), never ``pow``/``ln``, whose
last bit may differ between C libraries. Every ``row_number()`` and ``INSERT`` is ordered by a
unique key, so row order is fixed too.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

DEMO_TABLES: tuple[str, ...] = ("customers", "products", "orders", "order_items")

_MAX_SCALE = 10.0

# (country, weight in percent, cities: the first one is the most common).
_COUNTRIES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("United States", 26, ("New York", "Los Angeles", "Chicago", "Houston", "Seattle")),
    ("United Kingdom", 10, ("London", "Manchester", "Birmingham", "Edinburgh")),
    ("Germany", 10, ("Berlin", "Munich", "Hamburg", "Cologne")),
    ("France", 8, ("Paris", "Lyon", "Marseille", "Toulouse")),
    ("Canada", 6, ("Toronto", "Vancouver", "Montreal", "Calgary")),
    ("Australia", 5, ("Sydney", "Melbourne", "Brisbane", "Perth")),
    ("Spain", 5, ("Madrid", "Barcelona", "Valencia", "Seville")),
    ("Italy", 5, ("Rome", "Milan", "Naples", "Turin")),
    ("Japan", 5, ("Tokyo", "Osaka", "Yokohama", "Nagoya")),
    ("Netherlands", 4, ("Amsterdam", "Rotterdam", "Utrecht")),
    ("Brazil", 4, ("São Paulo", "Rio de Janeiro", "Brasília")),
    ("India", 4, ("Mumbai", "Delhi", "Bangalore", "Chennai")),
    ("Sweden", 3, ("Stockholm", "Gothenburg", "Malmö")),
    ("Mexico", 3, ("Mexico City", "Guadalajara", "Monterrey")),
    ("Ireland", 2, ("Dublin", "Cork", "Galway")),
)

_FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "Lucas",
    "Charlotte", "Mateo", "Isabella", "Leon", "Chloé", "Hugo", "Lea", "Finn", "Giulia", "Marco",
    "Sofía", "Diego", "Yuki", "Haruto", "Aiko", "Ren", "Priya", "Arjun", "Ananya", "Rohan",
    "Ingrid", "Erik", "Astrid", "Lars", "Aoife", "Seán", "Camila", "Rafael", "Valentina",
    "Mohammed", "Fatima", "Omar", "Zara", "Daniel", "Grace", "Samuel", "Hannah", "Jack", "Emily",
    "Thomas",
)  # fmt: skip

_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Wilson",
    "Taylor", "Müller", "Schmidt", "Schneider", "Fischer", "Martin", "Bernard", "Dubois", "Rossi",
    "Russo", "Bianchi", "Fernández", "López", "González", "Sato", "Suzuki", "Takahashi", "Tanaka",
    "Sharma", "Patel", "Singh", "Kumar", "Johansson", "Andersson", "Nilsson", "Murphy", "Kelly",
    "O'Brien", "Silva", "Santos", "Oliveira", "Hernández", "de Vries", "Jansen", "Tremblay",
    "Roy", "Nguyen", "Khan", "Cohen", "Novak", "Walker",
)  # fmt: skip

# (category, lowest and highest list price, product kinds).
_CATEGORIES: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("Electronics", 15, 900, ("Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Monitor",
                              "Webcam", "Smartwatch")),
    ("Home & Kitchen", 10, 300, ("Blender", "Kettle", "Skillet", "Knife Set", "Coffee Maker",
                                 "Toaster", "Cutting Board", "Storage Set")),
    ("Books", 8, 60, ("Cookbook", "Travel Guide", "Novel", "Atlas", "Notebook", "Field Guide")),
    ("Clothing", 12, 180, ("T-Shirt", "Hoodie", "Jacket", "Jeans", "Sneakers", "Scarf", "Cap")),
    ("Sports & Outdoors", 10, 400, ("Yoga Mat", "Tent", "Backpack", "Water Bottle", "Bike Helmet",
                                    "Dumbbell Set", "Running Shoes", "Sleeping Bag")),
    ("Beauty", 5, 90, ("Shampoo", "Face Cream", "Perfume", "Hair Dryer", "Sunscreen")),
    ("Toys & Games", 8, 120, ("Board Game", "Puzzle", "Building Set", "Plush Toy", "RC Car",
                              "Card Game")),
    ("Grocery", 3, 40, ("Coffee Beans", "Green Tea", "Olive Oil", "Dark Chocolate", "Granola",
                        "Honey")),
)  # fmt: skip

_ADJECTIVES = (
    "Classic", "Essential", "Premium", "Compact", "Deluxe", "Eco", "Everyday", "Urban",
    "Nordic", "Studio", "Heritage", "Signature", "Travel", "Family", "Alpine", "Coastal",
)  # fmt: skip
_EDITIONS = ("", " Mini", " Plus", " Pro")  # so scale 10 still has unique product names

_SCHEMA = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    email VARCHAR NOT NULL UNIQUE,
    country VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    segment VARCHAR NOT NULL CHECK (segment IN ('consumer', 'small_business', 'enterprise')),
    signup_date DATE NOT NULL
);
CREATE TABLE products (
    product_id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    category VARCHAR NOT NULL,
    unit_price DECIMAL(10, 2) NOT NULL CHECK (unit_price > 0),
    active BOOLEAN NOT NULL
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
    order_date TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL
        CHECK (status IN ('processing', 'shipped', 'completed', 'cancelled', 'returned')),
    channel VARCHAR NOT NULL CHECK (channel IN ('web', 'mobile', 'store')),
    total_amount DECIMAL(12, 2) NOT NULL
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (order_id),
    line_number INTEGER NOT NULL CHECK (line_number >= 1),
    product_id INTEGER NOT NULL REFERENCES products (product_id),
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price DECIMAL(10, 2) NOT NULL,
    discount DECIMAL(4, 2) NOT NULL CHECK (discount >= 0 AND discount < 1),
    PRIMARY KEY (order_id, line_number)
);
"""

_COMMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "customers": (
        "Demo data: registered customers of a fictional online shop (generated, not real people).",
        {
            "customer_id": "Customer identifier; ids are assigned in signup order.",
            "name": "Full name (the contact person for business accounts).",
            "email": "Unique e-mail address on a reserved example domain.",
            "country": "Country of the billing address (English name).",
            "city": "City of the billing address; always a city in `country`.",
            "segment": "'consumer', 'small_business' or 'enterprise'.",
            "signup_date": "Day the account was created; the customer's orders are on or after it.",
        },
    ),
    "products": (
        "Demo data: the product catalogue.",
        {
            "product_id": "Product identifier.",
            "name": "Product name, unique.",
            "category": "One of 8 product categories.",
            "unit_price": "Current list price per unit; order_items.unit_price has the price paid.",
            "active": "False for discontinued products, which have no orders from 2025 on.",
        },
    ),
    "orders": (
        "Demo data: customer orders from 2022-01-01 to 2025-12-31, one row per order.",
        {
            "order_id": "Order identifier; ids increase with order_date.",
            "customer_id": "The ordering customer (customers.customer_id).",
            "order_date": "When the order was placed (UTC).",
            "status": "'processing', 'shipped', 'completed', 'cancelled' or 'returned'; only "
            "orders from the last days of 2025 are still processing or shipped.",
            "channel": "Where the order was placed: 'web', 'mobile' or 'store'.",
            "total_amount": "Amount charged: sum over the order's lines of "
            "round(quantity * unit_price * (1 - discount), 2). Also set for cancelled orders.",
        },
    ),
    "order_items": (
        "Demo data: order lines, one row per product in an order.",
        {
            "order_id": "The order (orders.order_id).",
            "line_number": "Position of the line in its order, 1, 2, ...",
            "product_id": "The product (products.product_id); each product once per order.",
            "quantity": "Units ordered.",
            "unit_price": "List price per unit at the time of the order, before discount.",
            "discount": "Discount as a fraction of the line's price: 0.15 means 15 % off.",
        },
    ),
}

# Staging tables are TEMP (in memory, never written to the file).
# h(key, salt) is the hash behind every draw. DuckDB combines the hashes of several arguments
# cheaply, so hash(x, 'a') and hash(x, 'b') are strongly correlated; hashing the result again
# makes draws with different salts independent. u(key, salt) is a uniform draw in [0, 1) from
# the top 53 bits (an exact conversion to DOUBLE), pick(xs, key, salt) an element of list xs.
_GENERATE = """
CREATE TEMP MACRO h(key, salt) AS hash(hash(key, salt));
CREATE TEMP MACRO u(key, salt) AS (h(key, salt) >> 11)::DOUBLE / 9007199254740992;
CREATE TEMP MACRO pick(xs, key, salt) AS xs[1 + (h(key, salt) % len(xs))::INTEGER];

INSERT INTO customers
WITH c AS (
    SELECT
        i AS customer_id,
        pick(getvariable('first_names'), i, 'first') AS fn,
        pick(getvariable('last_names'), i, 'last') AS ln,
        pick(getvariable('geo'), i, 'country') AS geo,
        u(i, 'city') AS u_city,
        u(i, 'segment') AS u_seg,
        -- sqrt of evenly spread points: signups per day grow linearly from 2020 to 2025.
        -- (i - 1 + jitter) / n increases with i, so ids follow signup order.
        (DATE '2020-01-01' + floor(2190 * sqrt((i - 1 + u(i, 'signup'))
                                               / getvariable('n_customers')))::INTEGER) AS signup
    FROM range(1, getvariable('n_customers') + 1) AS r(i)
)
SELECT
    customer_id,
    fn || ' ' || ln,
    regexp_replace(lower(strip_accents(fn || '.' || ln)), '[^a-z.]', '', 'g') || customer_id
        || '@' || pick(['example.com', 'example.org', 'example.net'], customer_id, 'mail'),
    geo[1],
    -- Squaring skews towards the first (largest) city of the country.
    geo[2 + floor((len(geo) - 1) * u_city * u_city)::INTEGER],
    CASE WHEN u_seg < 0.80 THEN 'consumer' WHEN u_seg < 0.95 THEN 'small_business'
         ELSE 'enterprise' END,
    signup
FROM c
ORDER BY customer_id;

-- Cumulative purchase weights in id (= signup) order: a minority of customers buy far more.
CREATE TEMP TABLE buyer AS
SELECT customer_id, signup_date, segment,
       sum(1 + floor(9 * u(customer_id, 'loyal') * u(customer_id, 'loyal')
                            * u(customer_id, 'loyal'))::BIGINT)
           OVER (ORDER BY customer_id) AS cum_weight
FROM customers;

INSERT INTO products
WITH names AS (
    SELECT c.category, c.lo, c.hi, adj || ' ' || kind || edition AS name
    FROM (SELECT unnest(getvariable('categories'), recursive := true)) AS c,
         unnest(c.kinds) AS k(kind),
         unnest(getvariable('adjectives')) AS a(adj),
         unnest(getvariable('editions')) AS e(edition)
), picked AS (
    SELECT row_number() OVER (ORDER BY h(name, 'pick'), name)::INTEGER AS product_id, *
    FROM names
    QUALIFY product_id <= getvariable('n_products')
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY h(product_id, 'pop'), product_id) - 1 AS pop_rank
    FROM picked
)
SELECT
    product_id, name, category,
    -- Cheap items are more common than expensive ones; prices end in .99.
    (floor(lo + (hi - lo) * u(product_id, 'price') * u(product_id, 'price')) + 0.99)
        ::DECIMAL(10, 2),
    -- About 7 % are discontinued, never one of the best-selling quarter.
    pop_rank < getvariable('n_products') / 4 OR u(product_id, 'active') >= 0.10
FROM ranked
ORDER BY product_id;

-- Popularity rank (0 = best seller) → product, once over all products for orders before 2025
-- and once over active ones for 2025, when discontinued products no longer sell.
CREATE TEMP TABLE popularity AS
SELECT recent, product_id,
       row_number() OVER (PARTITION BY recent ORDER BY h(product_id, 'pop'), product_id) - 1
           AS rank
FROM products, (VALUES (false), (true)) AS v(recent)
WHERE active OR NOT recent;

-- Relative order volume per day: growth, seasonality, Black Friday / Cyber Monday, weekends and
-- day-to-day noise. Integer weights keep the running sum exact.
CREATE TEMP TABLE days AS
WITH d AS (
    SELECT t::DATE AS day FROM range(DATE '2022-01-01', DATE '2026-01-01', INTERVAL 1 DAY) AS r(t)
)
SELECT day, sum(
        (1000 + 30 * ((year(day) - 2022) * 12 + month(day) - 1))::BIGINT
        * [90, 85, 95, 95, 100, 95, 95, 100, 100, 105, 150, 175][month(day)]
        -- Black Friday is the Friday of Nov 23-29, Cyber Monday the Monday after it.
        * CASE WHEN strftime(day, '%m-%d') BETWEEN '11-23' AND '11-29' AND dayofweek(day) = 5
                   THEN 3
               WHEN strftime(day, '%m-%d') BETWEEN '11-26' AND '12-02' AND dayofweek(day) = 1
                   THEN 2
               ELSE 1 END
        * CASE WHEN dayofweek(day) IN (0, 6) THEN 110 ELSE 100 END
        * (85 + h(day, 'noise') % 31)
    ) OVER (ORDER BY day) AS cum_weight
FROM d;

-- Each order draws its day from the weights above (ASOF finds the first day whose running
-- weight exceeds the draw), then a time of day; ids are assigned in time order.
CREATE TEMP TABLE order_head AS
WITH draws AS (
    SELECT j, h(j, 'day') % (SELECT max(cum_weight) FROM days) AS w
    FROM range(getvariable('n_orders')) AS r(j)
), dated AS (
    SELECT j, day,
           -- mobile grows from 20 % to 40 % of orders over the four years.
           CASE WHEN u(j, 'channel') < 0.15 THEN 'store'
                WHEN u(j, 'channel') < 0.35 + 0.20 * (day - DATE '2022-01-01') / 1461 THEN 'mobile'
                ELSE 'web' END AS channel
    FROM draws ASOF JOIN days ON draws.w < days.cum_weight
), timed AS (
    SELECT *, day + to_seconds(CASE
        WHEN channel = 'store' THEN 9 * 3600 + floor(11 * 3600 * u(j, 'time'))  -- opening hours
        ELSE 6 * 3600 + floor(17 * 3600 * (u(j, 'time') + u(j, 'time2')) / 2) END) AS order_date
    FROM dated
)
SELECT row_number() OVER (ORDER BY order_date, j)::INTEGER AS order_id, day, channel, order_date
FROM timed;

-- Customer: a weighted draw among those signed up by the order day. Ids follow signup order, so
-- the eligible ones are 1..k and their total weight is the running weight of customer k.
CREATE TEMP TABLE order_cust AS
WITH eligible AS (SELECT signup_date, max(cum_weight) AS cum_weight FROM buyer GROUP BY ALL),
drawn AS (
    SELECT o.*, h(o.order_id, 'customer') % e.cum_weight AS w
    FROM order_head o ASOF JOIN eligible e ON o.day >= e.signup_date
)
SELECT d.*, b.customer_id, b.segment,
       CASE
           WHEN d.channel = 'store' THEN
               CASE WHEN u(d.order_id, 'status') < 0.04 THEN 'returned' ELSE 'completed' END
           WHEN u(d.order_id, 'status') < 0.04 THEN 'cancelled'
           WHEN d.day >= DATE '2025-12-30' THEN 'processing'
           WHEN d.day >= DATE '2025-12-24' THEN 'shipped'
           WHEN u(d.order_id, 'status') < 0.09 THEN 'returned'
           ELSE 'completed' END AS status
FROM drawn d ASOF JOIN buyer b ON d.w < b.cum_weight;

-- Lines: 1-8 per order (more for business customers), product by skewed popularity with
-- duplicates within an order dropped, quantity mostly 1, discounts from promotions (heavier
-- in Nov/Dec) and enterprise contracts. Prices were ~3 % lower per year before 2025.
CREATE TEMP TABLE lines AS
WITH n AS (
    SELECT *, u(order_id, 'lines') AS ul,
        CASE WHEN ul < 0.40 THEN 1 WHEN ul < 0.65 THEN 2 WHEN ul < 0.80 THEN 3 WHEN ul < 0.89 THEN 4
             WHEN ul < 0.94 THEN 5 WHEN ul < 0.97 THEN 6 WHEN ul < 0.99 THEN 7 ELSE 8 END
        + CASE segment WHEN 'consumer' THEN 0 ELSE 1 END AS n_lines,
        day >= DATE '2025-01-01' AS recent
    FROM order_cust
), cand AS (
    SELECT n.order_id, n.segment, n.day, n.recent, k, h(n.order_id, k) AS key,
           -- Squared draw: rank 0 is the best seller, the top fifth of products get ~45 %.
           floor((SELECT count(*) FROM popularity p WHERE p.recent = n.recent)
                 * u(key, 'product') * u(key, 'product'))::BIGINT AS rank
    FROM n, range(n.n_lines) AS r(k)
), chosen AS (
    SELECT c.*, p.product_id
    FROM cand c JOIN popularity p USING (recent, rank)
    QUALIFY row_number() OVER (PARTITION BY c.order_id, p.product_id ORDER BY c.k) = 1
)
SELECT c.order_id, row_number() OVER (PARTITION BY c.order_id ORDER BY c.k)::INTEGER
           AS line_number,
       c.product_id,
       (CASE WHEN u(key, 'qty') < 0.70 THEN 1 WHEN u(key, 'qty') < 0.88 THEN 2
             WHEN u(key, 'qty') < 0.96 THEN 3 ELSE 4 + floor(5 * u(key, 'qty2')) END
        * CASE WHEN c.segment = 'enterprise' THEN 1 + floor(10 * u(key, 'bulk')) ELSE 1 END
       )::INTEGER AS quantity,
       round(pr.unit_price * (1 - 0.03 * (2025 - year(c.day))), 2)::DECIMAL(10, 2) AS unit_price,
       (CASE WHEN c.segment = 'enterprise' THEN 0.10 + 0.05 * (u(key, 'disc') < 0.3)::INTEGER
             WHEN month(c.day) >= 11 AND u(key, 'disc') < 0.45
                 THEN pick([0.10, 0.15, 0.20, 0.25], key, 'promo')
             WHEN u(key, 'disc') < 0.12 THEN pick([0.05, 0.10, 0.15], key, 'promo')
             ELSE 0 END)::DECIMAL(4, 2) AS discount
FROM chosen c JOIN products pr USING (product_id);

INSERT INTO orders
SELECT o.order_id, o.customer_id, o.order_date, o.status, o.channel, t.total
FROM order_cust o
JOIN (SELECT order_id,
             sum(round(quantity * unit_price * (1 - discount), 2))::DECIMAL(12, 2) AS total
      FROM lines GROUP BY order_id) t USING (order_id)
ORDER BY o.order_id;

INSERT INTO order_items SELECT * FROM lines ORDER BY order_id, line_number;
"""


def build_demo_database(path: Path, *, scale: float = 1.0) -> None:
    """Create the DuckDB file at `path` (atomically: build at a temporary name in the same
    directory, then os.replace). If `path` exists, do nothing.

    Scale 1.0 is about 5,000 customers, 300 products, 60,000 orders and 150,000 order items;
    the same `scale` always gives the same data.
    """
    if not 0 < scale <= _MAX_SCALE:
        raise ValueError(f"scale must be > 0 and <= {_MAX_SCALE}, got {scale}")
    if path.exists():
        return
    # A unique name per build, so concurrent first starts cannot write into the same file;
    # readers only ever see a missing file or a complete one.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            _populate(con, scale)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)


def ensure_demo_database(data_dir: Path) -> Path:
    """Return ``data_dir/demo/demo.duckdb``, building it first if it does not exist."""
    path = data_dir / "demo" / "demo.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_demo_database(path)
    return path


def _populate(con: duckdb.DuckDBPyConnection, scale: float) -> None:
    variables: dict[str, object] = {
        # The minimums keep tiny scales valid, e.g. someone has signed up before the first order.
        "n_customers": max(20, round(5_000 * scale)),
        "n_products": max(10, round(300 * scale)),
        "n_orders": max(100, round(60_000 * scale)),
        "first_names": list(_FIRST_NAMES),
        "last_names": list(_LAST_NAMES),
        # One entry per percent of customers: [country, city, city, ...].
        "geo": [
            [country, *cities] for country, weight, cities in _COUNTRIES for _ in range(weight)
        ],
        "categories": [
            {"category": name, "lo": lo, "hi": hi, "kinds": list(kinds)}
            for name, lo, hi, kinds in _CATEGORIES
        ],
        "adjectives": list(_ADJECTIVES),
        "editions": list(_EDITIONS),
    }
    for name, value in variables.items():
        con.execute(f"SET VARIABLE {name} = ?", [value])
    con.execute(_SCHEMA)
    for table, (table_comment, columns) in _COMMENTS.items():
        con.execute(f"COMMENT ON TABLE {table} IS {_quote(table_comment)}")
        for column, comment in columns.items():
            con.execute(f"COMMENT ON COLUMN {table}.{column} IS {_quote(comment)}")
    con.execute(_GENERATE)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
