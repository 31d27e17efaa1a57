"""Generate the support ticket triage sample data (text classification).

Writes (relative to this folder):

* ``data/tickets.csv``: 4,500 support tickets, January to May 2026 (training data).
* ``incoming/tickets_2026_06.csv``: 1,500 tickets from June 2026, a later production batch
  with labels.

Everything is synthetic and drawn from ``numpy.random.default_rng(SEED)``, so running
``python generate.py`` twice writes byte-identical files. Each ticket's subject and body
are assembled from per-category sentence templates filled with products, amounts, order
numbers and error codes, so a TF-IDF model can learn the categories. To keep it from being
trivial: a fifth of the tickets mention a second issue from another category, ~8 % of
bodies are vague ("It does not work, please call me back."), some subjects are generic
("Help", "Urgent"), openers and closers are shared by all categories, and about 4 % of
tickets carry the wrong label (agents mis-filed them).

Label: ``category`` in billing, technical, account, shipping, other (imbalanced: about
34 / 30 / 16 / 12 / 8 %).

Problems planted on purpose, so the workbench's checks have something to find:

* Empty bodies: ~3 % of tickets have no body (chat transcripts that failed to attach).
* Target leakage: ``assigned_queue`` is the queue the agent routed the ticket to *after*
  reading it; it maps one-to-one to ``category`` and is not known when a new ticket arrives.
* Duplicates: 60 tickets were exported twice (identical rows).
* Personal data: ``customer_email`` holds (fake) e-mail addresses, and some bodies contain
  a phone number (555-01xx, a fictional range) or the customer's first name.
* ``customer_tier`` is the sensitive column for fairness slicing (do free-tier customers
  get worse routing?).

The June batch drifts the way a real one does: a new product, the Nimbus Doorbell,
launched, bringing new vocabulary (chime, motion alerts, pairing) into technical and
shipping tickets; the mix shifts towards technical (~40 %) and shipping (~20 %); more
tickets arrive by chat, and empty bodies rise to ~9 %.
"""

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20260103
HERE = Path(__file__).resolve().parent

N_TRAIN = 4_500
N_INCOMING = 1_500
N_DUPLICATES = 60

CATEGORIES = ["billing", "technical", "account", "shipping", "other"]
TRAIN_MIX = [0.34, 0.30, 0.16, 0.12, 0.08]
INCOMING_MIX = [0.22, 0.42, 0.11, 0.18, 0.07]
QUEUES = {
    "billing": "finance",
    "technical": "tech_support",
    "account": "identity",
    "shipping": "logistics",
    "other": "general",
}

PRODUCTS = ["Nimbus Router", "Nimbus Mesh", "Nimbus Cam", "Nimbus Hub", "Nimbus app"]
NEW_PRODUCT = "Nimbus Doorbell"
PLANS = ["Basic", "Plus", "Family", "Business"]
MONTHS = ["January", "February", "March", "April", "May", "June"]
CARRIERS = ["UPS", "DHL", "FedEx", "the courier", "the post office"]
COUNTRIES = ["Canada", "Germany", "Spain", "the UK", "Mexico", "Ireland"]
THIRD_PARTY = ["Alexa", "Google Home", "HomeKit", "my smart TV", "a VPN"]
FIRST_NAMES = [
    "maria", "james", "wei", "fatima", "john", "sofia", "lukas", "aisha", "daniel", "emma",
    "carlos", "yuki", "olivia", "omar", "chloe", "peter", "nina", "raj", "anna", "tom",
]
LAST_NAMES = [
    "smith", "garcia", "chen", "okafor", "miller", "rossi", "novak", "patel", "brown", "kim",
    "lopez", "tanaka", "wilson", "haddad", "martin", "weber", "silva", "khan", "moore", "ali",
]

SUBJECTS = {
    "billing": ["Charged twice this month", "Question about my invoice", "Refund request",
                "Wrong amount on my bill", "Cancel my subscription", "Payment failed",
                "Invoice {invoice} is wrong", "Price increase?"],
    "technical": ["{product} keeps disconnecting", "Error {error} after update",
                  "{product} not working", "Very slow connection", "Firmware update failed",
                  "App crashes", "{product} offline again"],
    "account": ["Can't log in", "Password reset not arriving", "Change my email address",
                "Locked out of my account", "Two-factor code problem", "Delete my account",
                "Add a user to our account"],
    "shipping": ["Where is my order?", "Order {order} not delivered", "Package damaged",
                 "Wrong item received", "Change delivery address", "Tracking not updating"],
    "other": ["Feedback", "Question", "Partnership inquiry", "Suggestion for the app",
              "Compatibility question", "Thank you"],
}
GENERIC_SUBJECTS = ["Help", "Urgent", "Problem", "Support request", "Please help", "Issue"]

BODIES = {
    "billing": [
        "I was charged {amount} twice for my {plan} plan in {month}.",
        "My invoice {invoice} shows {amount} but my plan should be cheaper.",
        "Please refund the {amount} charge, I cancelled before the renewal date.",
        "My card payment failed and now the {plan} plan says the account is overdue.",
        "Can you send the invoice for {month} with our VAT number on it?",
        "Why did the price of my {plan} subscription go up to {amount}?",
        "I want to cancel the subscription and get a refund for the unused months.",
    ],
    "technical": [
        "My {product} keeps dropping the connection every few minutes since the last update.",
        "I get error {error} when I try to set up the {product}.",
        "The {product} firmware update failed and the light is blinking red.",
        "The wifi through the {product} is very slow in the evening.",
        "The app crashes every time I open the {product} settings page.",
        "I restarted the {product} twice but it still does not connect to the internet.",
        "The {product} shows offline in the app even though the light is green.",
    ],
    "account": [
        "I cannot log in and the password reset email never arrives.",
        "Please change the email address on my account, I no longer use the old one.",
        "My account is locked after too many login attempts.",
        "The two-factor code from the app is always rejected when I sign in.",
        "How do I add a second user to our {plan} account?",
        "Please delete my account and all my personal data.",
        "Someone else may have logged into my account, I got a sign-in alert.",
    ],
    "shipping": [
        "My order {order} should have arrived {days} days ago and the tracking has not moved.",
        "The {product} box arrived damaged and the device does not power on.",
        "I received the wrong item in order {order}, I ordered the {product}.",
        "Can I change the delivery address for order {order}?",
        "{carrier} says the parcel was delivered but I never got it.",
        "How long does shipping to {country} take for the {product}?",
    ],
    "other": [
        "Do you offer a student discount?",
        "I like the {product}, are there plans for a dark mode in the app?",
        "We are a reseller and would like to discuss a partnership.",
        "Is the {product} compatible with {thirdparty}?",
        "Just wanted to say thanks to your support team for the quick help.",
        "Where can I find the user manual in Spanish?",
    ],
}
# New vocabulary that only shows up after the Nimbus Doorbell launch (incoming batch).
NEW_BODIES = {
    "technical": [
        "The {product} chime does not ring when someone presses the button.",
        "Motion alerts from the {product} arrive minutes late on my phone.",
        "Pairing the {product} with the hub fails at the last step.",
        "The {product} battery drains in two days and the video freezes.",
    ],
    "shipping": [
        "My {product} preorder {order} still shows as processing.",
        "The {product} arrived without the mounting kit.",
    ],
}
# Vague tickets: the body says nothing about the category (only the subject might).
VAGUE_BODIES = [
    "It does not work, please call me back.",
    "I have a problem with my {product}, please help.",
    "Same issue as last week, nobody answered.",
    "See the subject. I need this fixed today.",
    "Can someone contact me about my {product}?",
]
OPENERS = ["", "", "Hi, ", "Hello, ", "Hello team, ", "Good morning, ", "Hey, "]
CLOSERS = ["", "", "", " Thanks.", " Thank you.", " Please help asap.", " Thanks in advance.",
           " This is the second time I write about this."]


def lower_first(sentence: str) -> str:
    """Lower-case the first letter when the sentence continues another one ("My" -> "my",
    but not "I", "UPS" or a product name)."""
    if len(sentence) > 1 and sentence[1].islower() and not sentence.startswith("Nimbus"):
        return sentence[0].lower() + sentence[1:]
    return sentence


def fill(template: str, rng: np.random.Generator, products: list[str]) -> str:
    """Fill the slots of one template with random but plausible values."""
    values = {
        "product": products[rng.integers(len(products))],
        "plan": PLANS[rng.integers(len(PLANS))],
        "month": MONTHS[rng.integers(len(MONTHS))],
        "amount": f"${rng.integers(5, 300)}.{rng.integers(0, 100):02d}",
        "invoice": f"INV-{rng.integers(10_000, 99_999)}",
        "order": f"#{rng.integers(100_000, 999_999)}",
        "error": f"E{rng.integers(100, 999)}",
        "days": str(rng.integers(3, 15)),
        "carrier": CARRIERS[rng.integers(len(CARRIERS))],
        "country": COUNTRIES[rng.integers(len(COUNTRIES))],
        "thirdparty": THIRD_PARTY[rng.integers(len(THIRD_PARTY))],
    }
    return template.format(**values)


def make_tickets(
    rng: np.random.Generator,
    n: int,
    start: str,
    days: int,
    mix: list[float],
    new_product_share: float,
    channel_p: list[float],
    empty_body_share: float,
) -> pd.DataFrame:
    products = PRODUCTS + ([NEW_PRODUCT] * 3 if new_product_share else [])
    seconds = np.sort(rng.integers(0, days * 86_400, n))
    created = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")
    true_category = rng.choice(CATEGORIES, n, p=mix)

    rows = []
    for i in range(n):
        category = str(true_category[i])
        first = FIRST_NAMES[rng.integers(len(FIRST_NAMES))]
        last = LAST_NAMES[rng.integers(len(LAST_NAMES))]
        email = [
            f"{first}.{last}@example.com",
            f"{first[0]}{last}{rng.integers(1, 99)}@example.org",
            f"{first}{rng.integers(1, 999)}@example.net",
        ][rng.integers(3)]

        templates = BODIES[category]
        if new_product_share and category in NEW_BODIES and rng.random() < new_product_share:
            templates = NEW_BODIES[category]
            product_pool = [NEW_PRODUCT]
        else:
            product_pool = products
        if rng.random() < 0.08:
            body = fill(VAGUE_BODIES[rng.integers(len(VAGUE_BODIES))], rng, products)
        else:
            body = fill(templates[rng.integers(len(templates))], rng, product_pool)
        if rng.random() < 0.2:  # a second, secondary issue from another category
            others = [c for c in CATEGORIES if c != category]
            other = others[rng.integers(len(others))]
            extra = fill(BODIES[other][rng.integers(len(BODIES[other]))], rng, products)
            body = f"{body} Also, {lower_first(extra)}"
        closer = CLOSERS[rng.integers(len(CLOSERS))]
        if rng.random() < 0.05:
            closer += f" Call me at 555-01{rng.integers(0, 100):02d}."
        elif rng.random() < 0.08:
            closer += f" Regards, {first.capitalize()}"
        opener = OPENERS[rng.integers(len(OPENERS))]
        body = f"{opener}{lower_first(body) if opener else body}{closer}"

        if rng.random() < 0.2:
            subject = GENERIC_SUBJECTS[rng.integers(len(GENERIC_SUBJECTS))]
        else:
            subjects = SUBJECTS[category]
            subject = fill(subjects[rng.integers(len(subjects))], rng, product_pool)

        label = category
        if rng.random() < 0.04:  # mis-filed by the agent
            label = CATEGORIES[rng.integers(len(CATEGORIES))]
        rows.append((email, subject, body, label))

    df = pd.DataFrame(rows, columns=["customer_email", "subject", "body", "category"])
    df.insert(0, "created_at", pd.Series(created).dt.strftime("%Y-%m-%dT%H:%M:%S"))
    df.insert(1, "channel", rng.choice(["email", "web_form", "chat", "phone"], n, p=channel_p))
    df.insert(2, "customer_tier", rng.choice(["free", "plus", "business"], n, p=[0.55, 0.33, 0.12]))
    # Chat transcripts fail to attach far more often than e-mails or web forms.
    empty_p = np.where(df["channel"] == "chat", empty_body_share * 2.5, empty_body_share * 0.5)
    empty = rng.random(n) < empty_p
    df.loc[empty, "body"] = None
    df.insert(df.columns.get_loc("category"), "assigned_queue", df["category"].map(QUEUES))
    return df


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def main() -> None:
    rng = np.random.default_rng(SEED)
    train = make_tickets(
        rng, N_TRAIN, "2026-01-01", 151, TRAIN_MIX, new_product_share=0.0,
        channel_p=[0.40, 0.30, 0.20, 0.10], empty_body_share=0.03,
    )
    train.insert(0, "ticket_id", [f"TK{i:06d}" for i in range(1, N_TRAIN + 1)])
    dup = np.sort(rng.choice(N_TRAIN, N_DUPLICATES, replace=False))
    train = pd.concat([train, train.iloc[dup]]).sort_index(kind="stable").reset_index(drop=True)

    incoming = make_tickets(
        rng, N_INCOMING, "2026-06-01", 30, INCOMING_MIX, new_product_share=0.5,
        channel_p=[0.30, 0.25, 0.35, 0.10], empty_body_share=0.08,
    )
    incoming_ids = range(N_TRAIN + 1, N_TRAIN + N_INCOMING + 1)
    incoming.insert(0, "ticket_id", [f"TK{i:06d}" for i in incoming_ids])

    write(train, HERE / "data" / "tickets.csv")
    write(incoming, HERE / "incoming" / "tickets_2026_06.csv")


if __name__ == "__main__":
    main()
