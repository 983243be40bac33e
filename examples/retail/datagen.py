#!/usr/bin/env python3
"""Generate the bundled retail sample data for Canary.

A fictitious omni-channel retailer platform with two tenants (`acme`, a growing US/UK
chain, and `globex`, a smaller German/French one) over two full years, 2024-01-01 to
2025-12-31 (UTC). The data is seeded and fully deterministic: running this script twice
writes the same rows. It needs numpy and pyarrow only, and no network.

    python3 examples/retail/datagen.py            # rewrites examples/retail/data/

Written (all Parquet, zstd):

    data/orders/month=YYYY-MM/part-0.parquet   order lines, hive-partitioned by month
    data/sessions/sessions-YYYY.parquet        web and app sessions
    data/balances/balances-YYYY.parquet        daily loyalty-balance snapshots
    data/customers.parquet                     customers
    data/stores.parquet                        stores (one `online` store per tenant)
    data/regions.parquet                       sales regions
    data/catalog.parquet                       products sold (shared by both tenants)

Stories in the data, for demos and anomaly detection:
  * seasonality: summer dip, Black Friday / Cyber Monday spike, December peak;
  * acme grows ~22 % a year and moves from web to its app; globex is flat, with a slump
    in spring 2025;
  * acme's app was down 2025-08-11..17 (app orders fell by 80 % that week);
  * globex had a fulfilment incident in March 2025 (online cancellations jumped to ~18 %);
  * acme relaunched its loyalty programme on 2025-04-01 (a 25.00 welcome bonus on every
    account); globex's balance export missed half of its accounts on 2024-10-31 and
    2025-06-30 (so "last snapshot per account" and "last day of the period" differ);
  * a few order lines (37) have no recorded discount (NULL).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20240101
HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

START = np.datetime64("2024-01-01", "D")
END = np.datetime64("2026-01-01", "D")  # exclusive
DAYS = np.arange(START, END, dtype="datetime64[D]")
N_DAYS = len(DAYS)
US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S

# Black Friday through Cyber Monday.
PEAK_DAYS = {
    np.datetime64(d, "D")
    for d in [
        "2024-11-29", "2024-11-30", "2024-12-01", "2024-12-02",
        "2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01",
    ]
}

REGIONS = [
    # region_id, region, country
    (1, "US West", "US"),
    (2, "US Central", "US"),
    (3, "US East", "US"),
    (4, "US South", "US"),
    (5, "London", "GB"),
    (6, "North England", "GB"),
    (7, "North Germany", "DE"),
    (8, "Bavaria", "DE"),
    (9, "Ile-de-France", "FR"),
    (10, "South France", "FR"),
    (11, "Randstad", "NL"),
]

TENANTS = {
    "acme": dict(
        customers=9_000,
        daily_orders=172.0,
        growth=0.22,  # per year
        regions=[1, 2, 3, 4, 5, 6],
        region_weights=[0.22, 0.14, 0.26, 0.16, 0.14, 0.08],
        web=(0.46, 0.40),  # share at the start and at the end of the two years
        app=(0.14, 0.33),
        stores=[  # store_id, name, type, region_id, weight
            (101, "Acme Online", "online", 3, 0.0),
            (102, "Acme San Francisco Flagship", "flagship", 1, 3.0),
            (103, "Acme Los Angeles Mall", "mall", 1, 2.0),
            (104, "Acme Chicago", "mall", 2, 2.0),
            (105, "Acme Denver Outlet", "outlet", 2, 1.0),
            (106, "Acme New York Flagship", "flagship", 3, 3.5),
            (107, "Acme Boston", "mall", 3, 1.5),
            (108, "Acme Atlanta", "mall", 4, 1.5),
            (109, "Acme Houston Outlet", "outlet", 4, 1.0),
            (110, "Acme London Oxford St", "flagship", 5, 2.5),
            (111, "Acme Bicester Outlet", "outlet", 5, 1.0),
            (112, "Acme Manchester", "mall", 6, 1.5),
        ],
    ),
    "globex": dict(
        customers=4_200,
        daily_orders=94.0,
        growth=0.0,
        regions=[7, 8, 9, 10, 11],
        region_weights=[0.24, 0.26, 0.24, 0.14, 0.12],
        web=(0.56, 0.54),
        app=(0.09, 0.17),
        stores=[
            (201, "Globex Online", "online", 7, 0.0),
            (202, "Globex Hamburg", "flagship", 7, 2.0),
            (203, "Globex Munich", "mall", 8, 2.0),
            (204, "Globex Ingolstadt Outlet", "outlet", 8, 1.0),
            (205, "Globex Paris", "flagship", 9, 2.5),
            (206, "Globex Marseille", "mall", 10, 1.0),
            (207, "Globex Amsterdam", "mall", 11, 1.0),
        ],
    ),
}

CATEGORIES = {
    # category: (share of the catalog, median list price, brands)
    "apparel": (0.24, 39.0, ["Northwind", "Fernhill", "Basalt", "Tidewater"]),
    "electronics": (0.12, 189.0, ["Voltaic", "Lumina", "Quanta"]),
    "home": (0.16, 49.0, ["Hearthstone", "Oakline", "Parlour"]),
    "beauty": (0.12, 22.0, ["Bloom & Co", "Verdant"]),
    "grocery": (0.16, 6.5, ["Harvest Table", "Millbrook", "Greenacre"]),
    "toys": (0.10, 27.0, ["Kitebox", "Pebble"]),
    "sports": (0.10, 59.0, ["Summit", "Stride", "Racquet Club"]),
}
N_PRODUCTS = 400

MONTH_FACTOR = np.array([0.86, 0.84, 0.95, 0.96, 1.00, 0.95, 0.90, 0.91, 1.00, 1.05, 1.30, 1.48])
WEEKDAY_FACTOR = np.array([0.95, 0.92, 0.95, 1.00, 1.06, 1.16, 1.00])  # Monday first

# Hour-of-day weights (UTC, roughly local time for the bulk of each tenant's customers).
HOURS_ONLINE = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 10, 12, 12, 9, 5], float)
HOURS_STORE = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 6, 8, 10, 10, 9, 9, 9, 10, 9, 7, 4, 0, 0, 0], float)

DISCOUNTS = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
DISCOUNT_P = np.array([0.22, 0.28, 0.16, 0.16, 0.08, 0.07, 0.03])


def day_parts(days: np.ndarray):
    """Month (1-12), weekday (0 = Monday) and fraction of the two years for each day."""
    months = days.astype("datetime64[M]").astype(int) % 12 + 1
    weekday = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    frac = (days - START).astype(int) / (N_DAYS - 1)
    return months, weekday, frac


def daily_rate(tenant: str, cfg: dict) -> np.ndarray:
    months, weekday, frac = day_parts(DAYS)
    rate = cfg["daily_orders"] * MONTH_FACTOR[months - 1] * WEEKDAY_FACTOR[weekday]
    rate = rate * (1.0 + cfg["growth"]) ** (2.0 * frac)
    peak = np.array([d in PEAK_DAYS for d in DAYS])
    rate = np.where(peak, rate * 2.3, rate)
    day_of_month = (DAYS - DAYS.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    rate = np.where((months == 12) & (day_of_month == 25), rate * 0.35, rate)
    if tenant == "globex":
        slump = (DAYS >= np.datetime64("2025-03-01")) & (DAYS < np.datetime64("2025-06-01"))
        rate = np.where(slump, rate * 0.78, rate)
    return rate


def make_catalog(rng: np.random.Generator) -> dict:
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[c][0] for c in names])
    counts = np.floor(shares / shares.sum() * N_PRODUCTS).astype(int)
    counts[0] += N_PRODUCTS - counts.sum()
    category, brand, price, pname = [], [], [], []
    nouns = {
        "apparel": ["Tee", "Hoodie", "Jeans", "Jacket", "Dress", "Scarf", "Sneakers", "Cap"],
        "electronics": ["Headphones", "Speaker", "Tablet", "Charger", "Smartwatch", "Camera"],
        "home": ["Lamp", "Throw", "Vase", "Pan Set", "Towel Set", "Candle", "Chair"],
        "beauty": ["Serum", "Shampoo", "Lip Balm", "Face Mask", "Perfume"],
        "grocery": ["Coffee", "Olive Oil", "Granola", "Tea", "Chocolate", "Pasta"],
        "toys": ["Puzzle", "Blocks", "Plush Bear", "Board Game", "Kite"],
        "sports": ["Yoga Mat", "Racket", "Water Bottle", "Running Shorts", "Dumbbells"],
    }
    for c, n in zip(names, counts):
        _, median, brands = CATEGORIES[c]
        for _ in range(n):
            category.append(c)
            b = brands[rng.integers(len(brands))]
            brand.append(b)
            p = median * rng.lognormal(0.0, 0.45)
            price.append(max(0.99, np.floor(p) + 0.99))
            pname.append(f"{b} {nouns[c][rng.integers(len(nouns[c]))]}")
    order = rng.permutation(N_PRODUCTS)
    product_id = 10_001 + np.arange(N_PRODUCTS)
    return dict(
        product_id=product_id,
        product_name=np.array(pname, dtype=object)[order],
        category=np.array(category, dtype=object)[order],
        brand=np.array(brand, dtype=object)[order],
        list_price=np.round(np.array(price)[order], 2),
    )


def make_customers(rng: np.random.Generator, tenant: str, cfg: dict, first_id: int) -> dict:
    n = cfg["customers"]
    existing = int(n * 0.58)
    before = rng.integers(np.datetime64("2019-01-01", "D").astype(int), START.astype(int), existing)
    # New customers arrive with the business: same seasonality and trend as orders.
    rate = daily_rate(tenant, cfg)
    new_days = rng.choice(N_DAYS, size=n - existing, p=rate / rate.sum())
    signup = np.concatenate([before, START.astype(int) + new_days]).astype("datetime64[D]")
    signup.sort(kind="stable")
    segment = np.where(rng.random(n) < 0.14, "business", "consumer").astype(object)
    region_id = rng.choice(cfg["regions"], size=n, p=cfg["region_weights"]).astype(np.int64)
    # How often each customer buys: heavy-tailed, business customers more often.
    activity = rng.lognormal(0.0, 1.0, n) * np.where(segment == "business", 1.8, 1.0)
    return dict(
        customer_id=first_id + np.arange(n, dtype=np.int64),
        tenant_id=np.full(n, tenant, dtype=object),
        segment=segment,
        region_id=region_id,
        signup_date=signup,
        activity=activity,
    )


def pick_customers(rng, cust: dict, when_days: np.ndarray) -> np.ndarray:
    """Indexes of customers, weighted by activity, among those signed up by each day."""
    eligible = np.searchsorted(cust["signup_date"], when_days, side="right")
    eligible = np.maximum(eligible, 1)
    cum = np.cumsum(cust["activity"])
    u = rng.random(len(when_days)) * cum[eligible - 1]
    return np.minimum(np.searchsorted(cum, u, side="right"), eligible - 1)


def time_of_day(rng, channel: np.ndarray) -> np.ndarray:
    """Microseconds since midnight, whole seconds."""
    online = rng.choice(24, size=len(channel), p=HOURS_ONLINE / HOURS_ONLINE.sum())
    store = rng.choice(24, size=len(channel), p=HOURS_STORE / HOURS_STORE.sum())
    hour = np.where(channel == "store", store, online)
    return (hour * 3600 + rng.integers(0, 3600, len(channel))) * US_PER_S


def make_orders(rng, tenant: str, cfg: dict, cust: dict, catalog: dict) -> dict:
    rate = daily_rate(tenant, cfg)
    per_day = rng.poisson(rate)
    day_idx = np.repeat(np.arange(N_DAYS), per_day)
    n = len(day_idx)
    days = DAYS[day_idx]
    months, weekday, frac = day_parts(days)

    ci = pick_customers(rng, cust, days)
    business = cust["segment"][ci] == "business"

    # Channel: the app gains share over the two years; stores do better at weekends;
    # business buyers rarely use the app.
    web = cfg["web"][0] + (cfg["web"][1] - cfg["web"][0]) * frac
    app = (cfg["app"][0] + (cfg["app"][1] - cfg["app"][0]) * frac) * np.where(business, 0.4, 1.0)
    store = np.maximum(1.0 - web - app, 0.05) * np.where(weekday >= 5, 1.3, 1.0)
    total = web + app + store
    u = rng.random(n) * total
    channel = np.where(u < web, "web", np.where(u < web + app, "app", "store")).astype(object)

    # acme's app outage.
    if tenant == "acme":
        outage = (days >= np.datetime64("2025-08-11")) & (days <= np.datetime64("2025-08-17"))
        keep = ~(outage & (channel == "app") & (rng.random(n) < 0.8))
    else:
        keep = np.ones(n, bool)

    ordered_at = days.astype("datetime64[us]").astype(np.int64) + time_of_day(rng, channel)

    # Products: a long tail of popularity.
    popularity = 1.0 / np.arange(1, N_PRODUCTS + 1) ** 0.9
    popularity = popularity[rng.permutation(N_PRODUCTS)] if tenant == "globex" else popularity
    pi = rng.choice(N_PRODUCTS, size=n, p=popularity / popularity.sum())
    category = catalog["category"][pi]

    # Quantity: mostly 1-2, more for groceries and business buyers.
    quantity = np.where(category == "grocery", rng.geometric(0.35, n), rng.geometric(0.62, n))
    quantity = np.where(business, 1 + rng.poisson(4.0, n), quantity)
    quantity = np.minimum(quantity, 48).astype(np.int64)

    # Price: list price with ~3 % yearly inflation, a little noise, and B2B contract prices.
    price = catalog["list_price"][pi] * (1.0 + 0.03 * 2.0 * frac) * (1.0 + rng.normal(0, 0.02, n))
    price = np.where(business, price * 0.95, price)
    unit_price = np.round(np.maximum(price, 0.5), 2)

    # Discounts: promotions in January, July, November (Black Friday) and December.
    promo_p = np.full(n, 0.16)
    promo_p = np.where(months == 1, 0.30, promo_p)
    promo_p = np.where(months == 7, 0.27, promo_p)
    promo_p = np.where(months == 11, 0.30, promo_p)
    promo_p = np.where(months == 12, 0.24, promo_p)
    promo_p = np.where(np.isin(days, list(PEAK_DAYS)), 0.62, promo_p)
    promo = rng.random(n) < promo_p
    discount = np.where(promo, rng.choice(DISCOUNTS, size=n, p=DISCOUNT_P), 0.0)

    # Status: apparel comes back more often, stores less; March 2025 at globex was bad.
    returned_p = np.full(n, 0.05)
    returned_p = np.where(category == "apparel", 0.14, returned_p)
    returned_p = np.where(category == "electronics", 0.07, returned_p)
    returned_p = returned_p + np.select([channel == "web", channel == "app"], [0.02, 0.01], -0.02)
    cancelled_p = np.where(channel == "store", 0.008, 0.035)
    if tenant == "globex":
        incident = (days >= np.datetime64("2025-03-01")) & (days < np.datetime64("2025-04-01"))
        cancelled_p = np.where(incident & (channel != "store"), 0.18, cancelled_p)
    u = rng.random(n)
    status = np.where(
        u < cancelled_p, "cancelled", np.where(u < cancelled_p + returned_p, "returned", "completed")
    ).astype(object)

    # Store: the online store for web and app; for store orders a store in the
    # customer's region when there is one, else any of the tenant's stores.
    stores = cfg["stores"]
    online_id = stores[0][0]
    physical = stores[1:]
    ids = np.array([s[0] for s in physical], np.int64)
    weights = np.array([s[4] for s in physical])
    by_region = {r: [i for i, s in enumerate(physical) if s[3] == r] for r in cfg["regions"]}
    any_store = rng.choice(len(physical), size=n, p=weights / weights.sum())
    local = any_store.copy()
    region = cust["region_id"][ci]
    r_u = rng.random(n)
    for r, members in by_region.items():
        if not members:
            continue
        w = weights[members] / weights[members].sum()
        m = region == r
        local[m] = np.array(members)[np.minimum(np.searchsorted(np.cumsum(w), r_u[m]), len(members) - 1)]
    use_local = rng.random(n) < 0.8
    store_idx = np.where(use_local, local, any_store)
    store_id = np.where(channel == "store", ids[store_idx], online_id).astype(np.int64)

    return {
        k: v[keep]
        for k, v in dict(
            customer_id=cust["customer_id"][ci],
            product_id=catalog["product_id"][pi].astype(np.int64),
            store_id=store_id,
            tenant_id=np.full(n, tenant, dtype=object),
            channel=channel,
            status=status,
            ordered_at=ordered_at,
            quantity=quantity,
            unit_price=unit_price,
            discount=discount,
        ).items()
    }


def make_sessions(rng, tenant: str, cfg: dict, cust: dict, orders: dict) -> dict:
    """Sessions before online orders (most converted within minutes, some days later),
    plus browsing sessions that never convert, some of them anonymous."""
    online = orders["channel"] != "store"
    o_customer = orders["customer_id"][online]
    o_channel = orders["channel"][online]
    o_time = orders["ordered_at"][online]
    n = len(o_time)
    kind = rng.random(n)
    delay_s = np.where(
        kind < 0.70,
        rng.integers(90, 3600, n),  # same visit
        np.where(kind < 0.94, rng.integers(3600, 3 * 86400, n), rng.integers(8 * 86400, 12 * 86400, n)),
    )
    # Some buyers come back through the other channel.
    switch = rng.random(n) < 0.1
    s_channel = np.where(switch, np.where(o_channel == "web", "app", "web"), o_channel).astype(object)
    s_time = o_time - delay_s.astype(np.int64) * US_PER_S
    s_customer = o_customer.astype(float)

    # Browsing sessions, on the same days and hours as orders.
    rate = daily_rate(tenant, cfg)
    m = int(n * 1.25)
    day_idx = rng.choice(N_DAYS, size=m, p=rate / rate.sum())
    days = DAYS[day_idx]
    _, _, frac = day_parts(days)
    web = cfg["web"][0] + (cfg["web"][1] - cfg["web"][0]) * frac
    app = cfg["app"][0] + (cfg["app"][1] - cfg["app"][0]) * frac
    b_channel = np.where(rng.random(m) * (web + app) < web, "web", "app").astype(object)
    b_time = days.astype("datetime64[us]").astype(np.int64) + time_of_day(rng, b_channel)
    b_customer = cust["customer_id"][pick_customers(rng, cust, days)].astype(float)
    b_customer[rng.random(m) < 0.04] = np.nan  # not logged in

    customer = np.concatenate([s_customer, b_customer])
    channel = np.concatenate([s_channel, b_channel])
    started = np.concatenate([s_time, b_time])
    keep = started >= START.astype("datetime64[us]").astype(np.int64)
    customer, channel, started = customer[keep], channel[keep], started[keep]
    # One session per customer and start time (so a conversion never has two equally
    # recent sessions to choose from).
    key = np.where(np.isnan(customer), -1, customer).astype(np.int64)
    order = np.lexsort((started, key))
    dup = np.zeros(len(order), bool)
    dup[1:] = (key[order][1:] == key[order][:-1]) & (started[order][1:] == started[order][:-1]) & (key[order][1:] >= 0)
    order = order[~dup]
    return dict(
        customer_id=customer[order],
        tenant_id=np.full(len(order), tenant, dtype=object),
        channel=channel[order],
        started_at=started[order],
    )


def make_balances(rng, tenant: str, cust: dict, accounts: int) -> dict:
    """Daily closing balance of loyalty accounts (loyalty points valued in currency)."""
    n_c = len(cust["customer_id"])
    p = cust["activity"] / cust["activity"].sum()
    chosen = np.sort(rng.choice(n_c, size=accounts, replace=False, p=p))
    opened = np.maximum(cust["signup_date"][chosen], START)
    # A few accounts are closed during 2025.
    closed = np.full(accounts, END)
    closing = rng.choice(accounts, size=max(1, accounts // 20), replace=False)
    closed[closing] = START + 366 + rng.integers(0, 364, len(closing))
    closed = np.where(closed < opened + 60, END, closed)  # too young to close

    earn = rng.random((accounts, N_DAYS)) < 0.12
    earn_amt = np.round(rng.uniform(2.0, 40.0, (accounts, N_DAYS)), 2)
    redeem = rng.random((accounts, N_DAYS)) < 0.025
    redeem_amt = np.round(rng.uniform(10.0, 120.0, (accounts, N_DAYS)), 2)
    initial = np.where(cust["signup_date"][chosen] < START, np.round(rng.uniform(0, 250, accounts), 2), 0.0)
    bonus_day = int((np.datetime64("2025-04-01") - START).astype(int))
    missing = [np.datetime64("2024-10-31"), np.datetime64("2025-06-30")] if tenant == "globex" else []

    rows_day, rows_cust, rows_bal = [], [], []
    for a in range(accounts):
        bal = initial[a]
        first = int((opened[a] - START).astype(int))
        last = int((closed[a] - START).astype(int))
        series = np.empty(N_DAYS)
        for d in range(N_DAYS):
            if d < first:
                series[d] = np.nan
                continue
            if earn[a, d]:
                bal += earn_amt[a, d]
            if redeem[a, d] and bal > 10:
                bal -= min(bal, redeem_amt[a, d])
            if tenant == "acme" and d == bonus_day:
                bal += 25.0
            bal = round(bal, 2)
            series[d] = bal
        live = np.arange(N_DAYS)
        live = live[(live >= first) & (live < last)]
        if missing and a % 2 == 0:  # the export missed half of the accounts on those days
            live = live[~np.isin(DAYS[live], missing)]
        rows_day.append(DAYS[live])
        rows_cust.append(np.full(len(live), cust["customer_id"][chosen[a]], np.int64))
        rows_bal.append(series[live])
    n = sum(len(x) for x in rows_day)
    return dict(
        snapshot_date=np.concatenate(rows_day),
        customer_id=np.concatenate(rows_cust),
        tenant_id=np.full(n, tenant, dtype=object),
        balance=np.round(np.concatenate(rows_bal), 2),
    )


def ts_array(us: np.ndarray, tz: str | None) -> pa.Array:
    return pa.array(us.astype(np.int64), type=pa.int64()).cast(pa.timestamp("us", tz=tz))


def write(table: pa.Table, path: Path, written: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=9)
    written.append((path, table.num_rows))


def main() -> None:
    rng = np.random.default_rng(SEED)
    if DATA.exists():
        shutil.rmtree(DATA)
    DATA.mkdir(parents=True)
    written: list = []

    catalog = make_catalog(rng)
    customers, orders, sessions, balances = {}, [], [], []
    first_id = {"acme": 100_001, "globex": 500_001}
    loyalty_accounts = {"acme": 200, "globex": 100}
    for tenant, cfg in TENANTS.items():
        cust = make_customers(rng, tenant, cfg, first_id[tenant])
        customers[tenant] = cust
        o = make_orders(rng, tenant, cfg, cust, catalog)
        orders.append(o)
        sessions.append(make_sessions(rng, tenant, cfg, cust, o))
        balances.append(make_balances(rng, tenant, cust, loyalty_accounts[tenant]))

    # --- dimensions -------------------------------------------------------------------
    write(
        pa.table({
            "region_id": pa.array([r[0] for r in REGIONS], pa.int64()),
            "region": pa.array([r[1] for r in REGIONS], pa.string()),
            "country": pa.array([r[2] for r in REGIONS], pa.string()),
        }),
        DATA / "regions.parquet",
        written,
    )
    store_rows = [(t, s) for t, cfg in TENANTS.items() for s in cfg["stores"]]
    write(
        pa.table({
            "store_id": pa.array([s[0] for _, s in store_rows], pa.int64()),
            "tenant_id": pa.array([t for t, _ in store_rows], pa.string()),
            "store_name": pa.array([s[1] for _, s in store_rows], pa.string()),
            "store_type": pa.array([s[2] for _, s in store_rows], pa.string()),
            "region_id": pa.array([s[3] for _, s in store_rows], pa.int64()),
        }),
        DATA / "stores.parquet",
        written,
    )
    write(
        pa.table({
            "product_id": pa.array(catalog["product_id"], pa.int64()),
            "product_name": pa.array(catalog["product_name"], pa.string()),
            "category": pa.array(catalog["category"], pa.string()),
            "brand": pa.array(catalog["brand"], pa.string()),
            "list_price": pa.array(catalog["list_price"], pa.float64()),
        }),
        DATA / "catalog.parquet",
        written,
    )
    cat = {k: np.concatenate([customers[t][k] for t in TENANTS]) for k in customers["acme"]}
    write(
        pa.table({
            "customer_id": pa.array(cat["customer_id"], pa.int64()),
            "tenant_id": pa.array(cat["tenant_id"], pa.string()),
            "segment": pa.array(cat["segment"], pa.string()),
            "region_id": pa.array(cat["region_id"], pa.int64()),
            "signup_date": pa.array(cat["signup_date"], pa.date32()),
        }),
        DATA / "customers.parquet",
        written,
    )

    # --- orders: sorted by time, ids in that order, one folder per month ---------------
    o = {k: np.concatenate([x[k] for x in orders]) for k in orders[0]}
    order = np.lexsort((o["customer_id"], o["ordered_at"]))
    o = {k: v[order] for k, v in o.items()}
    n = len(order)
    o["order_id"] = 10_000_001 + np.arange(n, dtype=np.int64)
    # A handful of lines where the discount was not recorded.
    discount = pa.array(o["discount"], pa.float64(), mask=np.isin(np.arange(n), rng.choice(n, 37, replace=False)))
    table = pa.table({
        "order_id": pa.array(o["order_id"], pa.int64()),
        "customer_id": pa.array(o["customer_id"], pa.int64()),
        "product_id": pa.array(o["product_id"], pa.int64()),
        "store_id": pa.array(o["store_id"], pa.int64()),
        "tenant_id": pa.array(o["tenant_id"], pa.string()),
        "channel": pa.array(o["channel"], pa.string()),
        "status": pa.array(o["status"], pa.string()),
        "ordered_at": ts_array(o["ordered_at"], "UTC"),
        "quantity": pa.array(o["quantity"], pa.int64()),
        "unit_price": pa.array(o["unit_price"], pa.float64()),
        "discount": discount,
    })
    month = o["ordered_at"].astype("datetime64[us]").astype("datetime64[M]")
    for m in np.unique(month):
        idx = np.nonzero(month == m)[0]
        write(table.take(pa.array(idx)), DATA / "orders" / f"month={m}" / "part-0.parquet", written)

    # --- sessions: one file per year ----------------------------------------------------
    s = {k: np.concatenate([x[k] for x in sessions]) for k in sessions[0]}
    order = np.lexsort((np.nan_to_num(s["customer_id"], nan=-1), s["started_at"]))
    s = {k: v[order] for k, v in s.items()}
    ns = len(order)
    s["session_id"] = 50_000_001 + np.arange(ns, dtype=np.int64)
    anonymous = np.isnan(s["customer_id"])
    table = pa.table({
        "session_id": pa.array(s["session_id"], pa.int64()),
        "customer_id": pa.array(np.nan_to_num(s["customer_id"], nan=0).astype(np.int64), pa.int64(), mask=anonymous),
        "tenant_id": pa.array(s["tenant_id"], pa.string()),
        "channel": pa.array(s["channel"], pa.string()),
        "started_at": ts_array(s["started_at"], None),
    })
    year = s["started_at"].astype("datetime64[us]").astype("datetime64[Y]")
    for y in np.unique(year):
        idx = np.nonzero(year == y)[0]
        write(table.take(pa.array(idx)), DATA / "sessions" / f"sessions-{y}.parquet", written)

    # --- balances: one file per year, rows by account then day -------------------------
    b = {k: np.concatenate([x[k] for x in balances]) for k in balances[0]}
    order = np.lexsort((b["snapshot_date"], b["customer_id"]))
    b = {k: v[order] for k, v in b.items()}
    table = pa.table({
        "snapshot_date": pa.array(b["snapshot_date"], pa.date32()),
        "customer_id": pa.array(b["customer_id"], pa.int64()),
        "tenant_id": pa.array(b["tenant_id"], pa.string()),
        "balance": pa.array(b["balance"], pa.float64()),
    })
    year = b["snapshot_date"].astype("datetime64[Y]")
    for y in np.unique(year):
        idx = np.nonzero(year == y)[0]
        write(table.take(pa.array(idx)), DATA / "balances" / f"balances-{y}.parquet", written)

    # --- summary ------------------------------------------------------------------------
    totals: dict[str, list] = {}
    for path, rows in written:
        rel = path.relative_to(DATA)
        product = rel.parts[0].removesuffix(".parquet")
        t = totals.setdefault(product, [0, 0, 0])
        t[0] += 1
        t[1] += rows
        t[2] += path.stat().st_size
    print(f"wrote {DATA.relative_to(HERE.parent.parent) if DATA.is_relative_to(HERE.parent.parent) else DATA}:")
    for product, (files, rows, size) in totals.items():
        print(f"  {product:<10} {rows:>9,} rows  {files:>3} file(s)  {size / 1024:>8.1f} KiB")
    total = sum(t[2] for t in totals.values())
    print(f"  {'total':<10} {sum(t[1] for t in totals.values()):>9,} rows  {len(written):>3} file(s)  {total / 1024:>8.1f} KiB")


if __name__ == "__main__":
    main()
