"""`drover dashboard`: a web application on 127.0.0.1 for the current kubeconfig.

Every read and write is a Kubernetes API call made as the kubeconfig's user, so RBAC decides what
each person sees and may change; the dashboard keeps no users and no state of its own.

- `members`: the members table (rows, filter, sort, page) and the Fleet's state counts;
- `edits`: the actions as server-side applies of the Fleet, their diff, the catalogue;
- `schema`: the parameters of a CRD's spec from its OpenAPI schema;
- `reads`: the API calls (as the user) that gather what a page shows;
- `app`: the aiohttp application (routes, CSRF, Server-Sent Events), `cli` its command.
"""
