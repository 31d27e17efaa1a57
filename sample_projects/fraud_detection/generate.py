"""Generate the card fraud detection sample data.

Writes (relative to this folder):

* ``data/transactions.csv``: 10,000 card transactions, January to May 2026 (training data).
* ``incoming/transactions_2026_06.csv``: 3,000 transactions from June 2026, a later
  production batch, labels included so performance can be measured.

Everything is synthetic. Customers, fake e-mail addresses and transactions come from
``numpy.random.default_rng(SEED)``, so running ``python generate.py`` twice writes
byte-identical files. The label follows a logistic model of plausible fraud signals
(large amounts, online, night-time, far from home, foreign country, bursts of
transactions, risky merchant categories) plus noise, so a model can learn it but not
perfectly.

Problems planted on purpose, so the workbench's checks have something to find:

* Strong class imbalance: about 1.5 % of transactions are fraud (``is_fraud`` = 1).
* Missing values: ``distance_from_home_km`` (~4 %, geolocation lookup failed, more often
  online), ``customer_age`` (~3 %, not captured at onboarding), ``merchant_category`` (~1 %).
* Target leakage: ``chargeback_flag`` is set weeks *after* the transaction, when the
  cardholder disputes it, so it nearly equals the label and is not known at scoring
  time. A model that uses it looks perfect offline and is useless live.
* Duplicates: 40 transactions were ingested twice (same ``transaction_id``, same values).
* Personal data: ``customer_email`` holds e-mail addresses (fake, ``example.*`` domains)
  that must never be a feature nor leave the project.
* ``customer_age`` is the sensitive column for fairness slicing.

The June batch drifts the way a real one does: amounts are ~25 % higher, a new
``merchant_category`` (``crypto_exchange``) appears, the online share rises from ~35 %
to ~50 %, the distance lookup fails more often (~12 % missing), new customers show up,
and with the same fraud mechanism the fraud rate rises to ~2-3 %.
"""

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20260101
HERE = Path(__file__).resolve().parent

N_TRAIN = 10_000
N_INCOMING = 3_000
N_DUPLICATES = 40
TARGET_FRAUD_RATE = 0.015

FIRST_NAMES = [
    "james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda",
    "david", "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica",
    "thomas", "sarah", "carlos", "karen", "daniel", "nancy", "matthew", "lisa", "anthony",
    "betty", "mark", "sofia", "paul", "emma", "kevin", "olivia", "brian", "amara", "li",
    "yuki", "omar", "fatima", "lukas", "chloe",
]
LAST_NAMES = [
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white",
    "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young",
    "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green",
    "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter",
    "roberts", "muller", "schmidt", "dubois", "rossi", "kowalski", "novak", "okafor",
    "tanaka", "chen", "patel",
]
EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]

HOME_COUNTRIES = ["US", "GB", "DE", "FR", "ES", "NL", "CA"]
HOME_WEIGHTS = [0.40, 0.15, 0.13, 0.11, 0.08, 0.07, 0.06]
FOREIGN_COUNTRIES = HOME_COUNTRIES + ["MX", "BR", "NG", "TR", "TH", "AE", "RU", "CN"]

# merchant_category -> (share online, share pos, log-amount mean, fraud effect)
CATEGORIES = {
    "grocery": (0.10, 0.36, 3.4, -0.8),
    "restaurants": (0.08, 0.20, 3.3, -0.5),
    "fuel": (0.01, 0.12, 3.7, -0.3),
    "online_retail": (0.40, 0.00, 3.9, 0.5),
    "electronics": (0.12, 0.06, 5.0, 0.9),
    "travel": (0.15, 0.03, 5.6, 0.6),
    "entertainment": (0.10, 0.08, 3.5, 0.0),
    "health": (0.02, 0.09, 3.8, -0.4),
    "jewelry": (0.02, 0.03, 5.3, 1.1),
}
NEW_CATEGORY = "crypto_exchange"  # appears only in the incoming batch
NEW_CATEGORY_EFFECT = 1.2

HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 6,
     6.5, 6, 5.5, 5.5, 6, 6.5, 7, 6.5, 5.5, 4, 3, 1.8]
)
HOUR_WEIGHTS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()


def make_customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """A customer base with a home country, age, spending level and fake e-mail."""
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    number = rng.integers(1, 99, n)
    style = rng.integers(0, 3, n)
    domain = rng.choice(EMAIL_DOMAINS, n, p=[0.6, 0.25, 0.15])
    emails = []
    for f, ln, k, s, d in zip(first, last, number, style, domain):
        local = [f"{f[0]}.{ln}{k}", f"{f}.{ln}", f"{f}{ln[0]}{k}"][s]
        emails.append(f"{local}@{d}")
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(1, n + 1)],
            "home_country": rng.choice(HOME_COUNTRIES, n, p=HOME_WEIGHTS),
            "age": np.clip(rng.normal(44, 15, n), 18, 92).round().astype(int),
            "spend_level": rng.normal(0.0, 0.35, n),
            "email": emails,
        }
    )


def make_transactions(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    n: int,
    start: str,
    days: int,
    online_share: float,
    amount_shift: float,
    new_category_share: float,
) -> pd.DataFrame:
    """Draw transactions and the features the fraud model is meant to learn from."""
    cust = customers.iloc[rng.integers(0, len(customers), n)].reset_index(drop=True)

    day = rng.integers(0, days, n)
    hour = rng.choice(24, n, p=HOUR_WEIGHTS)
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n)
    timestamp = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")

    # Channel first, then a category that fits the channel.
    u = rng.random(n)
    channel = np.where(u < online_share, "online", np.where(u < online_share + 0.10, "atm", "pos"))
    names = list(CATEGORIES)
    online_p = np.array([CATEGORIES[c][0] for c in names])
    pos_p = np.array([CATEGORIES[c][1] for c in names])
    category = np.empty(n, dtype=object)
    is_online = channel == "online"
    is_pos = channel == "pos"
    category[is_online] = rng.choice(names, is_online.sum(), p=online_p / online_p.sum())
    category[is_pos] = rng.choice(names, is_pos.sum(), p=pos_p / pos_p.sum())
    category[channel == "atm"] = "cash_withdrawal"
    if new_category_share > 0:
        new = is_online & (rng.random(n) < new_category_share / online_share)
        category[new] = NEW_CATEGORY
    card_present = (channel != "online").astype(int)

    # Amount: category level x customer spending level, heavy tailed.
    cat_mu = np.array([CATEGORIES.get(c, (0, 0, 4.6, 0))[2] for c in category])
    cat_mu[category == "cash_withdrawal"] = 4.3
    cat_mu[category == NEW_CATEGORY] = 5.4
    amount = np.exp(cat_mu + cust["spend_level"].to_numpy() + amount_shift + rng.normal(0, 0.75, n))
    amount = np.clip(amount, 1.0, 15_000.0)

    foreign = rng.random(n) < np.where(is_online, 0.12, 0.05)
    country = np.where(foreign, rng.choice(FOREIGN_COUNTRIES, n), cust["home_country"].to_numpy())
    foreign = country != cust["home_country"].to_numpy()
    distance = rng.lognormal(1.8, 1.0, n)
    distance = np.where(foreign, distance + rng.uniform(400, 9_000, n), distance)

    txn_count = 1 + rng.poisson(1.6, n) + (rng.random(n) < 0.04) * rng.poisson(6, n)

    # Fraud mechanism (same for training and incoming data; only the intercept is fitted).
    effect = np.array([CATEGORIES[c][3] if c in CATEGORIES else 0.0 for c in category])
    effect[category == NEW_CATEGORY] = NEW_CATEGORY_EFFECT
    effect[category == "cash_withdrawal"] = 0.3
    age = cust["age"].to_numpy()
    logit = 1.7 * (
        0.9 * (np.log(amount) - 4.0)
        + 1.1 * is_online
        + 1.0 * np.isin(hour, [0, 1, 2, 3, 4, 5])
        + 0.25 * np.log1p(distance)
        + 1.3 * foreign
        + 0.35 * (txn_count - 2)
        + effect
        + 0.5 * (age >= 75)
    ) + rng.normal(0, 0.7, n)
    return pd.DataFrame(
        {
            "timestamp": timestamp,
            "customer_id": cust["customer_id"],
            "amount": amount.round(2),
            "merchant_category": category,
            "country": country,
            "channel": channel,
            "card_present": card_present,
            "hour": hour,
            "distance_from_home_km": distance.round(1),
            "txn_count_24h": txn_count,
            "customer_age": age,
            "customer_email": cust["email"],
            "_logit": logit,
        }
    )


def fit_intercept(logit: np.ndarray, rate: float) -> float:
    """Bisection for the intercept that gives the wanted average fraud probability."""
    lo, hi = -30.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() > rate:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def finish(
    rng: np.random.Generator,
    df: pd.DataFrame,
    intercept: float,
    first_id: int,
    missing: dict[str, float],
    n_duplicates: int,
) -> pd.DataFrame:
    """Draw labels, the leaky chargeback flag, missing values and duplicates."""
    n = len(df)
    p = 1 / (1 + np.exp(-(df.pop("_logit").to_numpy() + intercept)))
    is_fraud = (rng.random(n) < p).astype(int)
    # Chargebacks arrive weeks later: 97 % of frauds are disputed, plus a few
    # "friendly fraud" disputes on genuine purchases.
    chargeback = np.where(is_fraud == 1, rng.random(n) < 0.97, rng.random(n) < 0.002)
    df["chargeback_flag"] = chargeback.astype(int)
    df["is_fraud"] = is_fraud

    for column, share in missing.items():
        rate = np.full(n, share)
        if column == "distance_from_home_km":  # IP geolocation fails more often online
            rate = np.where(df["channel"] == "online", share * 1.8, share * 0.55)
        mask = rng.random(n) < rate
        if column == "customer_age":
            df[column] = df[column].astype("Int64")
        df.loc[mask, column] = pd.NA if column == "customer_age" else None

    df = df.sort_values("timestamp", kind="stable").reset_index(drop=True)
    df.insert(0, "transaction_id", [f"T{first_id + i:07d}" for i in range(n)])
    df["timestamp"] = df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")

    if n_duplicates:
        dup = np.sort(rng.choice(n, n_duplicates, replace=False))
        df = pd.concat([df, df.iloc[dup]]).sort_index(kind="stable").reset_index(drop=True)
    return df


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def main() -> None:
    rng = np.random.default_rng(SEED)
    customers = make_customers(rng, 3_000)
    known = customers.iloc[:2_600]  # the last 400 customers only appear in June

    train = make_transactions(
        rng, known, N_TRAIN, "2026-01-01", 151,
        online_share=0.35, amount_shift=0.0, new_category_share=0.0,
    )
    intercept = fit_intercept(train["_logit"].to_numpy(), TARGET_FRAUD_RATE)
    train = finish(
        rng, train, intercept, first_id=1,
        missing={"distance_from_home_km": 0.04, "customer_age": 0.03, "merchant_category": 0.01},
        n_duplicates=N_DUPLICATES,
    )

    incoming = make_transactions(
        rng, customers, N_INCOMING, "2026-06-01", 30,
        online_share=0.50, amount_shift=0.22, new_category_share=0.06,
    )
    incoming = finish(
        rng, incoming, intercept, first_id=N_TRAIN + 1,
        missing={"distance_from_home_km": 0.12, "customer_age": 0.03, "merchant_category": 0.01},
        n_duplicates=0,
    )

    write(train, HERE / "data" / "transactions.csv")
    write(incoming, HERE / "incoming" / "transactions_2026_06.csv")


if __name__ == "__main__":
    main()
