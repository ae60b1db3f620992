"""Reports: `drover status` (table, JSON, YAML, Markdown, HTML) and `drover describe cluster`."""
