"""The members table of a Fleet page: one compact row per FleetMember, filtered, sorted and cut
into pages on the server, so a Fleet of 10,000 members sends the browser one page of rows."""

from __future__ import annotations

from dataclasses import dataclass

from mgmt.health.aggregate import PHASES, UNWELL_PHASES
from mgmt.report.fleet import member_row

PAGE_SIZE = 50
SORT_KEYS = ("cluster", "provider", "region", "version", "phase", "latency", "stack")


@dataclass(frozen=True)
class Query:
    """What the Fleet page's form asks for (from the URL's query string)."""

    text: str = ""
    provider: str = ""
    region: str = ""
    state: str = ""
    sort: str = "cluster"
    descending: bool = False
    page: int = 1

    @classmethod
    def parse(cls, args) -> Query:
        try:
            page = max(1, int(args.get("page") or 1))
        except ValueError:
            page = 1
        sort = args.get("sort") or "cluster"
        return cls(text=(args.get("q") or "").strip()[:100], provider=args.get("provider") or "",
                   region=args.get("region") or "", state=args.get("state") or "",
                   sort=sort if sort in SORT_KEYS else "cluster", descending=args.get("order") == "desc",
                   page=page)

    def params(self, **changes) -> dict[str, str]:
        """The query string of this query with some parts changed (for links), empty parts left out."""
        values = {"q": self.text, "provider": self.provider, "region": self.region, "state": self.state,
                  "sort": self.sort, "order": "desc" if self.descending else "", "page": str(self.page)}
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")
                and not (k == "sort" and v == "cluster")}


def row(member: dict) -> dict:
    """What the table shows of one member (the same summary as `drover status`)."""
    out = member_row(member)
    stack = out.get("stack") or ""
    done, _, total = stack.partition("/")
    out["stackDone"], out["stackTotal"] = (int(done), int(total)) if done.isdigit() and total.isdigit() else (0, 0)
    out["unwell"] = out["phase"] in UNWELL_PHASES
    return out


def _sort_key(key: str):
    def value(r: dict):
        if key == "phase":
            return (PHASES.index(r["phase"]) if r["phase"] in PHASES else len(PHASES), r["cluster"])
        if key == "stack":
            return (r["stackDone"] / r["stackTotal"] if r["stackTotal"] else -1, r["cluster"])
        field = {"version": "kubernetesVersion"}.get(key, key)
        return (r.get(field) or "", r["cluster"])
    return value


def select(rows: list[dict], query: Query) -> list[dict]:
    """The rows the filters keep, in the asked order."""
    text = query.text.lower()
    kept = [r for r in rows
            if (not query.provider or r.get("provider") == query.provider)
            and (not query.region or r.get("region") == query.region)
            and (not query.state or r["phase"] == query.state
                 or (query.state == "unwell" and r["unwell"]))
            and (not text or text in r["cluster"].lower() or text in (r.get("message") or "").lower())]
    if query.sort == "latency":  # members without a latency (unreachable) stay last either way
        timed = [r for r in kept if r.get("reachable") and r.get("latencyMs") is not None]
        untimed = [r for r in kept if not (r.get("reachable") and r.get("latencyMs") is not None)]
        return (sorted(timed, key=lambda r: (r["latencyMs"], r["cluster"]), reverse=query.descending)
                + sorted(untimed, key=lambda r: r["cluster"]))
    return sorted(kept, key=_sort_key(query.sort), reverse=query.descending)


@dataclass
class Page:
    rows: list[dict]
    number: int
    pages: int
    matched: int
    total: int


def page(rows: list[dict], query: Query, size: int = PAGE_SIZE) -> Page:
    chosen = select(rows, query)
    pages = max(1, -(-len(chosen) // size))
    number = min(query.page, pages)
    return Page(chosen[(number - 1) * size:number * size], number, pages, len(chosen), len(rows))


def facets(rows: list[dict]) -> dict[str, list[str]]:
    """The values the filters offer: providers, regions and states present in the Fleet."""
    return {"provider": sorted({r["provider"] for r in rows if r.get("provider")}),
            "region": sorted({r["region"] for r in rows if r.get("region")}),
            "state": [p for p in PHASES if any(r["phase"] == p for r in rows)]}


def state_counts(rows: list[dict]) -> dict[str, int]:
    counts = {p: 0 for p in PHASES}
    for r in rows:
        counts[r["phase"]] = counts.get(r["phase"], 0) + 1
    return {p: n for p, n in counts.items() if n}
