"""The dashboard's aiohttp application: pages rendered on the server from Jinja2 templates, a
small script that reloads the live part of a page on Server-Sent Events, and forms for the
actions (preview with a diff, then one server-side apply).

Only 127.0.0.1 is served, and only requests whose Host names it (a web page elsewhere cannot
reach it through DNS rebinding). Every form carries a CSRF token that must equal the one in the
SameSite=Strict cookie this process set, and the process's own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from mgmt.api.models import FLEET_LABEL
from mgmt.controller.members import member_name
from mgmt.kube import Kube, KubeError

from . import edits, history, live, members, reads

HERE = Path(__file__).parent
CSRF_COOKIE = "drover_csrf"
FLEET_PATH = "/apis/fleet.drover.dev/v1alpha1"
COLORS = {"Ready": "ready", "Degraded": "degraded", "Unreachable": "unreachable", "Failed": "failed",
          "Provisioning": "provisioning", "Pending": "pending", "Deleting": "deleting"}


@dataclass
class Dashboard:
    kube: Kube
    namespace: str          # the kubeconfig's namespace, for users who may not list every one
    user_hint: str          # the kubeconfig context, shown in the header
    csrf: str
    templates: jinja2.Environment


KEY = web.AppKey("dashboard", Dashboard)


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(colors=COLORS, urlencode=urlencode, member_name=member_name)
    return env


def render(request: web.Request, name: str, status: int = 200, **context) -> web.Response:
    dash = request.app[KEY]
    html = dash.templates.get_template(name).render(
        csrf=dash.csrf, context_name=dash.user_hint, request_path=request.path_qs,
        now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), **context)
    response = web.Response(text=html, content_type="text/html", status=status)
    response.set_cookie(CSRF_COOKIE, dash.csrf, httponly=True, samesite="Strict", path="/")
    return response


# -- safety ----------------------------------------------------------------------

@web.middleware
async def guard(request: web.Request, handler):
    host = (request.host or "").rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost"):
        return web.Response(status=421, text="this dashboard answers only to 127.0.0.1 and localhost\n")
    if request.method == "POST":
        form = await request.post()
        dash = request.app[KEY]
        sent, cookie = str(form.get("csrf") or ""), request.cookies.get(CSRF_COOKIE, "")
        if not (secrets.compare_digest(sent, dash.csrf) and secrets.compare_digest(cookie, dash.csrf)):
            return web.Response(status=403, text="missing or wrong CSRF token: reload the page and try again\n")
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def refused_page(request: web.Request, what: str, error: KubeError) -> web.Response:
    status = error.status if 400 <= error.status < 600 else 502
    return render(request, "error.html.j2", status=status, what=what, error=error)


# -- pages -----------------------------------------------------------------------

async def overview(request: web.Request) -> web.Response:
    dash = request.app[KEY]
    try:
        found, scope, refused = await reads.fleets(dash.kube, dash.namespace)
    except KubeError as error:
        return refused_page(request, "list Fleets", error)
    where = {} if scope == "all namespaces" else {"ns": dash.namespace}
    events = "/events?" + urlencode({"view": "overview", **where})
    items = reads.overview(found)
    return render(request, "overview.html.j2", items=items, scope=scope, refused=refused,
                  events=events, title="Fleets")


async def _fleet_or_error(request: web.Request) -> tuple[dict | None, web.Response | None]:
    namespace, name = request.match_info["namespace"], request.match_info["fleet"]
    try:
        fleet = await reads.fleet(request.app[KEY].kube, namespace, name)
    except KubeError as error:
        return None, refused_page(request, f"get Fleet {namespace}/{name}", error)
    if fleet is None:
        return None, render(request, "error.html.j2", status=404, what=f"Fleet {namespace}/{name}",
                            error=KubeError(404, "NotFound", f'fleets "{name}" not found in namespace "{namespace}"'))
    return fleet, None


async def fleet_page(request: web.Request) -> web.Response:
    dash = request.app[KEY]
    fleet, failed = await _fleet_or_error(request)
    if failed:
        return failed
    namespace, name = fleet["metadata"]["namespace"], fleet["metadata"]["name"]
    query = members.Query.parse(request.query)
    try:
        rows = await reads.member_rows(dash.kube, namespace, name)
    except KubeError as error:
        return refused_page(request, f"list the FleetMembers of {namespace}/{name}", error)
    entries, problems, catalogue_at = await reads.catalogue(dash.kube, namespace)
    spec, item = fleet.get("spec") or {}, reads.overview_item(fleet)
    events = "/events?" + urlencode({"view": "fleet", "ns": namespace, "fleet": name})
    return render(request, "fleet.html.j2", fleet=fleet, item=item, spec=spec,
                  chart=history.chart(fleet),
                  page=members.page(rows, query), query=query, facets=members.facets(rows),
                  states=members.state_counts(rows), catalogue=entries, catalogue_problems=problems,
                  catalogue_at=catalogue_at, describe_entry=edits.describe_entry,
                  targets=await reads.cloud_targets(dash.kube, namespace),
                  owned=edits.owned(fleet), sort_keys=members.SORT_KEYS, events=events,
                  title=f"Fleet {name}")


async def member_page(request: web.Request) -> web.Response:
    dash = request.app[KEY]
    namespace, name, cluster = (request.match_info[k] for k in ("namespace", "fleet", "cluster"))
    page = await reads.member_page(dash.kube, namespace, name, cluster)
    events = "/events?" + urlencode({"view": "member", "ns": namespace, "fleet": name, "cluster": cluster})
    return render(request, "member.html.j2", namespace=namespace, fleet_name=name, cluster=cluster, page=page,
                  events=events, title=f"Cluster {cluster}")


async def kubeconfig_download(request: web.Request) -> web.Response:
    dash = request.app[KEY]
    namespace, cluster = request.match_info["namespace"], request.match_info["cluster"]
    try:
        text = await reads.kubeconfig_text(dash.kube, namespace, cluster)
    except KubeError as error:
        return refused_page(request, f"get Secret {namespace}/{reads.kubeconfig_secret(cluster)}", error)
    if text is None:
        return web.Response(status=404, text=f"no kubeconfig for cluster {namespace}/{cluster} yet\n")
    return web.Response(text=text, content_type="application/yaml", headers={
        "Content-Disposition": f'attachment; filename="{cluster}.kubeconfig"'})


# -- actions ---------------------------------------------------------------------

async def _plan(request: web.Request) -> tuple[dict | None, edits.Plan | None, web.Response | None]:
    fleet, failed = await _fleet_or_error(request)
    if failed:
        return None, None, failed
    form = await request.post()
    action = str(form.get("action") or "")
    entries: dict = {}
    if action == "add-component":
        entries, _, _ = await reads.catalogue(request.app[KEY].kube, fleet["metadata"]["namespace"])
    try:
        return fleet, edits.plan(fleet, action, form, entries), None
    except edits.ActionError as error:
        return fleet, None, render(request, "result.html.j2", status=400, fleet=fleet, plan=None, answer=None,
                                   refusal=None, problem=str(error), title="Not sent")


def _fields(form) -> dict[str, str]:
    """The action's own form fields, carried from the preview to the apply."""
    return {k: str(v) for k, v in form.items() if k != "csrf"}


async def preview(request: web.Request) -> web.Response:
    """The diff of the change, as the apiserver would make it (a dry run of the same apply, so
    defaults and merging are the server's); when the dry run is refused, the refusal and the
    diff computed here."""
    fleet, plan, failed = await _plan(request)
    if failed:
        return failed
    refusal = None
    try:
        predicted = await request.app[KEY].kube.apply(plan.body, manager=edits.FIELD_MANAGER, force=True,
                                                      dry_run=True)
        plan.after = predicted.get("spec") or {}
    except KubeError as error:
        refusal = error
    return render(request, "preview.html.j2", fleet=fleet, plan=plan, fields=_fields(await request.post()),
                  refusal=refusal, title=plan.title)


async def apply(request: web.Request) -> web.Response:
    fleet, plan, failed = await _plan(request)
    if failed:
        return failed
    try:
        answer = await request.app[KEY].kube.apply(plan.body, manager=edits.FIELD_MANAGER, force=True)
    except KubeError as error:
        return render(request, "result.html.j2", status=error.status if 400 <= error.status < 600 else 502,
                      fleet=fleet, plan=plan, answer=None, refusal=error, problem=None, title="Refused")
    return render(request, "result.html.j2", fleet=fleet, plan=plan, answer=answer, refusal=None, problem=None,
                  title="Applied")


# -- live ------------------------------------------------------------------------

def watched(query) -> list[live.Watched]:
    """What a page's live part depends on."""
    namespace, fleet = query.get("ns"), query.get("fleet")
    where = f"{FLEET_PATH}/namespaces/{namespace}" if namespace else FLEET_PATH
    view = query.get("view")
    if view == "fleet" and namespace and fleet:
        return [live.Watched(f"{where}/fleets", fields=f"metadata.name={fleet}"),
                live.Watched(f"{where}/fleetmembers", labels=f"{FLEET_LABEL}={fleet}")]
    if view == "member" and namespace and fleet and query.get("cluster"):
        return [live.Watched(f"{where}/fleetmembers", fields=f"metadata.name={member_name(fleet, query['cluster'])}"),
                live.Watched(f"/api/v1/namespaces/{namespace}/events")]
    return [live.Watched(f"{where}/fleets")]


async def events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    stream = live.changes(request.app[KEY].kube, watched(request.query))
    try:
        async for chunk in stream:
            await response.write(chunk.encode())
    except (ConnectionResetError, RuntimeError):
        pass  # the page went away
    finally:
        await stream.aclose()
    return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def make_app(kube: Kube, namespace: str, user_hint: str) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    app[KEY] = Dashboard(kube, namespace, user_hint, secrets.token_urlsafe(32), templates())
    app.add_routes([
        web.get("/", overview),
        web.get("/healthz", healthz),
        web.get("/events", events),
        web.get("/fleets/{namespace}/{fleet}", fleet_page),
        web.post("/fleets/{namespace}/{fleet}/preview", preview),
        web.post("/fleets/{namespace}/{fleet}/apply", apply),
        web.get("/fleets/{namespace}/{fleet}/clusters/{cluster}", member_page),
        web.get("/fleets/{namespace}/{fleet}/clusters/{cluster}/kubeconfig", kubeconfig_download),
        web.static("/static", HERE / "static"),
    ])
    return app

