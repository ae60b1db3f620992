"""clusterctl's habits in the `drover` CLI: its config file, its variables and `generate cluster`.

`config` finds and reads clusterctl's config file and resolves variables the way clusterctl's
variables client does; `generate` turns a template (a built-in provider's, a file's or a URL's)
into the objects `clusterctl generate cluster` would print, and `output` writes them as its
go-yaml does; `commands` holds the click commands.
"""
