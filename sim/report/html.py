"""report.md -> a self-contained report.html (images inlined as base64 PNG).

Only the Markdown the reports themselves write is understood: ``#`` headings,
paragraphs, ``- `` bullet lists, pipe tables, ``![alt](path)`` images on their
own line, and inline ``code``.  Nothing is fetched; the page opens offline.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping

__all__ = ["markdown_to_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #0072B2;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td{white-space:nowrap}
th{background:#f0f4f8}
td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;height:auto;display:block;margin:.6em 0}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
.wide{overflow-x:auto}
"""

# Greedy alt text: captions may hold brackets ("SNR [dB]").
_IMAGE = re.compile(r"^!\[(?P<alt>.*)\]\((?P<src>[^()\s]+)\)$")


def _inline(text: str) -> str:
    out = html.escape(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_to_html(md: str, images: Mapping[str, bytes], title: str) -> str:
    """The page for ``md``; ``images`` maps each image path in ``md`` to its PNG bytes."""
    body: list[str] = []
    para: list[str] = []
    lines = md.splitlines()

    def flush() -> None:
        if para:
            body.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            flush()
        elif line.startswith("#"):
            flush()
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif (m := _IMAGE.match(line)) is not None:
            flush()
            src = m["src"]
            if src not in images:
                raise KeyError(f"report.md refers to {src}, which was not rendered")
            data = base64.b64encode(images[src]).decode("ascii")
            body.append(f'<img alt="{html.escape(m["alt"])}" src="data:image/png;base64,{data}">')
        elif line.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:].strip())}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            head, rest = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
            table = ["<div class=wide><table><thead><tr>"]
            table += [f"<th>{_inline(c)}</th>" for c in head]
            table.append("</tr></thead><tbody>")
            for r in rest:
                table.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            table.append("</tbody></table></div>")
            body.append("".join(table))
            continue
        else:
            para.append(line)
        i += 1
    flush()
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
