"""The report's HTML page: one self-contained file (inline style, no scripts, no network),
figures linked as PNG files in the same folder."""

from voltlab.orchestrator.report.tables import escape

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
nav a { margin-right: 1em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: 0.8em; }
table.data th, table.data td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4;
                               text-align: left; white-space: nowrap; }
table.data th { background: #f4f4f4; position: sticky; top: 0; }
table.data tr:hover td { background: #fafae8; }
"""


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{escape(anchor)}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def figure(file_name: str, title: str, caption: str) -> str:
    return (
        f'<figure><img src="{escape(file_name)}" alt="{escape(title)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def table(html_table: str) -> str:
    return f'<div class="scroll">{html_table}</div>'


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """``sections`` are (anchor, title, body HTML); a navigation line links them."""
    nav = " ".join(f'<a href="#{escape(a)}">{escape(t)}</a>' for a, t, _ in sections)
    body = "\n".join(section(a, t, b) for a, t, b in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p>{escape(subtitle)}</p>
<nav>{nav}</nav>
{body}
</body>
</html>
"""
