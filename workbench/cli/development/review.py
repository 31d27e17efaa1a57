"""Review & governance: ``mlops-workbench review card|approve|reject|show`` (model card, sign-off).

The command only parses and prints; the work is in :mod:`workbench.development.review`.
Bad input prints one line on stderr and exits 2 with nothing written or committed.

Usage::

    mlops-workbench review card [--json] [--role ROLE]       write/refresh reports/model_card.md (one commit)
    mlops-workbench review approve --comment TEXT [--json] [--role ROLE]
    mlops-workbench review reject --comment TEXT [--json] [--role ROLE]
    mlops-workbench review show [--json]

JSON (schema 1)::

                           dvc.lock, they load, and they score metrics.json exactly (else the rest is not run)
    review card --json     {"schema": 1, "commit", "path", "model_digest", "kept": [str], "messages"}
    review approve|reject --json
                           {"schema": 1, "commit", "card_refreshed", "messages", "review": {"decision",
                            "reviewer": {"name", "email", "role"}, "comment", "model_digest",
                            "validation_digest", "card_digest", "at", ...}}
    review show --json     {"schema": 1, "model_digest", "card": {"path", "exists", "current"},
                            "validation": {"passed", "current", "validated_at"}|null,
                            "decision": <review.json>|null, "holds": bool, "blockers": [str],
                            "history": [{"commit", "when", "decision", "reviewer", "comment",
                                         "model_digest", "at"}]}
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.options import add_project_option, project_path
from workbench.cli.output import print_json

NAME = "review"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("review", help="model card and sign-off: review card | approve | reject | show")
    inner = p.add_subparsers(dest="review_command", metavar="ACTION")
    c = inner.add_parser("card", help="write or refresh reports/model_card.md (one commit)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--role", help="the role you act in for the commit")
    add_project_option(c)
    for name, what in (("approve", "approve the current model"), ("reject", "reject the current model")):
        d = inner.add_parser(name, help=f"{what} with a comment (one commit of reports/review.json)")
        d.add_argument("--comment", "-m", required=True, help="why (required)")
        d.add_argument("--json", action="store_true", help="print the decision as JSON")
        d.add_argument("--role", help="the role you review in (default: your team role)")
        add_project_option(d)
    s = inner.add_parser("show", help="the current decision, whether it holds, and the history")
    s.add_argument("--json", action="store_true", help="print as JSON")
    add_project_option(s)



def _show(args: argparse.Namespace) -> int:
    from workbench.development.review import review_status

    status = review_status(project_path(args))
    if args.json:
        print_json(status.to_json())
        return 0
    print(f"Model: {status.model_digest or 'none trained yet'}")
    if status.validation is None:
        print("Validation: not run")
    else:
        v = status.validation
        print(f"Validation: {'passed' if v['passed'] else 'FAILED'} on {str(v['validated_at'])[:19]}"
              + ("" if v["current"] else " (for another model)"))
    print(f"Model card: {'reports/model_card.md' if status.card_text else 'not written'}"
          + ("" if not status.card_text else (" (current)" if status.card_current else " (out of date)")))
    decision = status.decision
    if decision is None:
        print("Decision: none yet")
    else:
        who = decision.get("reviewer") or {}
        print(f"Decision: {decision.get('decision')} by {who.get('name')} ({who.get('role')}) on "
              f"{str(decision.get('at'))[:19]}: {decision.get('comment')}")
        print(f"Still holds: {'yes' if status.holds else 'no'}")
    for line in status.blockers:
        print(f"  ! {line}")
    if status.history:
        print("History:")
        for entry in status.history:
            who = entry.get("reviewer") or {}
            print(f"  {entry['commit'][:7]}  {str(entry.get('at'))[:19]}  {entry.get('decision'):<8}  "
                  f"{who.get('name')}: {entry.get('comment')}")
    return 0



def run(args: argparse.Namespace) -> int:
    from workbench.development.model_card import write_card
    from workbench.development.review import decide

    action = args.review_command
    if action is None:
        print("mlops-workbench review: say what to do: review card | approve | reject | show", file=sys.stderr)
        return 2
    if action == "show":
        return _show(args)
    root = project_path(args)
    if action == "card":
        card = write_card(root, role=args.role)
        if args.json:
            print_json({"schema": 1, "commit": card.commit, "path": card.path,
                        "model_digest": card.model_digest, "kept": list(card.kept),
                        "messages": list(card.messages)})
            return 0
        for message in card.messages:
            print(f"note: {message}", file=sys.stderr)
        if card.commit:
            print(f"Wrote {card.path} (commit {card.commit[:7]}); edit Limitations and Ethical "
                  "considerations, then approve or reject")
        else:
            print(f"{card.path} is up to date: nothing committed")
        return 0
    done = decide(root, "approved" if action == "approve" else "rejected", args.comment, role=args.role)
    if args.json:
        print_json({"schema": 1, "commit": done.commit, "card_refreshed": done.card_refreshed,
                    "messages": list(done.messages), "review": done.review})
        return 0
    for message in done.messages:
        print(f"note: {message}", file=sys.stderr)
    who = done.review["reviewer"]
    print(f"{done.review['decision'].capitalize()} model {done.review['model_digest']} by {who['name']} "
          f"({who['role']}) (commit {(done.commit or '')[:7]})")
    return 0
