# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability report as one self-contained HTML page: a source x destination matrix, the
deciding rules of both ends on hover and on click, and the report's JSON in the page.

Private to the collection: the engine's API may change at any time.

No external asset and no network: the CSS and the script are inline. Every string from the
inventory goes through ``html.escape``; the JSON block escapes ``<``, ``>`` and ``&``
(``reachability.to_json``), so a host name holding ``</script>`` cannot end the block. The same
data gives the same bytes: nothing in the page depends on the time or on dict order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ansible_collections.palisade.firewall.plugins.plugin_utils.report.reachability import HOST, to_json

STYLE = """
body { font: 13px/1.35 system-ui, sans-serif; margin: 16px; color: #1b1b1b; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
p.meta { margin: 0 0 10px; color: #555; }
#tools { margin: 8px 0; }
#tools input { font: inherit; padding: 3px 6px; width: 22em; }
table.matrix { border-collapse: collapse; }
table.matrix th, table.matrix td { border: 1px solid #c8c8c8; padding: 4px 6px; vertical-align: top; }
table.matrix th { background: #eef1f6; text-align: left; white-space: nowrap; }
table.matrix th.group { background: #d9e1ee; text-align: center; }
table.matrix th.set, table.matrix th.set-group { background: #f1ebdd; }
td.cell { min-width: 9em; max-width: 22em; cursor: pointer; }
td.cell.allow { background: #e3f4e1; }
td.cell.unpoliced-only { background: #fff4d6; }
td.cell.none { background: #f7f7f7; color: #8a8a8a; }
td.cell.self { background: #e9e9e9; cursor: default; }
td.cell.gained { background: #e3f4e1; }
td.cell.lost { background: #fbe3e3; }
td.cell.gained.lost { background: #f4eccd; }
td.cell.match { outline: 3px solid #2f6fde; outline-offset: -3px; }
td.cell.dim { opacity: .35; }
td.cell.chosen { box-shadow: inset 0 0 0 3px #1b1b1b; }
span.svc { display: block; white-space: nowrap; }
span.unpoliced { display: block; color: #8a5a00; font-style: italic; }
span.gain { display: block; color: #166b10; }
span.loss { display: block; color: #a11717; }
#details { white-space: pre-wrap; font: 12px/1.4 ui-monospace, monospace; background: #f6f6f6; border: 1px solid #ddd;
  padding: 8px; margin-top: 12px; min-height: 3em; }
#error { color: #a11717; font-weight: bold; }
.legend span { display: inline-block; padding: 1px 6px; margin-right: 6px; border: 1px solid #c8c8c8; }
"""

SCRIPT = """
(function () {
  var body = document.body;
  try {
    var data = JSON.parse(document.getElementById("reachability-data").textContent);
    var cells = {};
    (data.cells || []).forEach(function (cell) { cells[cell.from + "\\u0000" + cell.to] = cell; });
    var details = document.getElementById("details");
    var tds = Array.prototype.slice.call(document.querySelectorAll("td.cell[data-from]"));
    function endText(end) {
      if (!end) { return "-"; }
      return end.verdict + (end.rule ? " (" + end.rule + ")" : "");
    }
    function describe(cell) {
      var lines = [cell.from + " -> " + cell.to];
      if (data.kind === "reachability comparison") {
        lines.push("gained: " + (cell.gained || "nothing"));
        lines.push("lost: " + (cell.lost || "nothing"));
        return lines.join("\\n");
      }
      lines.push("allowed: " + (cell.allow || "nothing") + (cell.unpoliced ? "; unpoliced: " + cell.unpoliced : ""));
      (cell.paths || []).forEach(function (path) {
        lines.push("");
        lines.push("IPv" + path.family + " " + path.from_address + (path.from_interface ? " (" + path.from_interface + ")" : "") +
                   " -> " + path.to_address + (path.to_interface ? " (" + path.to_interface + ")" : ""));
        path.flows.forEach(function (flow) {
          lines.push("  " + flow.service + ": " + flow.result + "; egress " + endText(flow.egress) + "; ingress " + endText(flow.ingress));
        });
      });
      return lines.join("\\n");
    }
    tds.forEach(function (td) {
      td.addEventListener("click", function () {
        var cell = cells[td.getAttribute("data-from") + "\\u0000" + td.getAttribute("data-to")];
        tds.forEach(function (other) { other.classList.remove("chosen"); });
        td.classList.add("chosen");
        details.textContent = cell ? describe(cell) : "nothing between these two";
      });
    });
    var filter = document.getElementById("filter");
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/[\\s,;]+/).filter(function (w) { return w.length > 0; });
      tds.forEach(function (td) {
        var text = (td.textContent || "").toLowerCase();
        var hit = words.length > 0 && words.every(function (w) { return text.indexOf(w) >= 0; });
        td.classList.toggle("match", hit);
        td.classList.toggle("dim", words.length > 0 && !hit);
      });
    });
    // #find=5432&from=host:app-1&to=host:db-1 opens the page with a search and a cell chosen
    var wanted = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length === 2) { wanted[decodeURIComponent(pair[0])] = decodeURIComponent(pair[1]); }
    });
    if (wanted.find) {
      filter.value = wanted.find;
      filter.dispatchEvent(new Event("input"));
    }
    tds.forEach(function (td) {
      if (wanted.from && td.getAttribute("data-from") === wanted.from && td.getAttribute("data-to") === wanted.to) { td.click(); }
    });
    body.setAttribute("data-cells", String(tds.length));
    body.setAttribute("data-ready", "1");
  } catch (error) {
    document.getElementById("error").textContent = "script error: " + error;
    body.setAttribute("data-error", String(error));
  }
})();
"""


def _party_label(party: Mapping[str, Any]) -> str:
    return party["name"] if party["kind"] == HOST else f"network set {party['name']}"


def _group_cells(parties: Sequence[Mapping[str, Any]], group_by: str | None) -> list[tuple[str, int, bool]]:
    """(group value, span, is network sets) for consecutive parties of one group."""
    runs: list[tuple[str, int, bool]] = []
    for party in parties:
        is_set = party["kind"] != HOST
        value = "network sets" if is_set else (party["group"] if party["group"] is not None else f"no {group_by}")
        if runs and runs[-1][0] == value and runs[-1][2] == is_set:
            runs[-1] = (value, runs[-1][1] + 1, is_set)
        else:
            runs.append((value, 1, is_set))
    return runs


def _cell_title(cell: Mapping[str, Any]) -> str:
    """The deciding rules of both ends, for every flow that gets through (the hover text)."""
    lines = [f"{cell['from'].split(':', 1)[1]} -> {cell['to'].split(':', 1)[1]}"]
    for path in cell.get("paths", ()):
        for flow in path["flows"]:
            if flow["result"] == "deny":
                continue
            ends = [f"{side} {end['verdict']}" + (f" ({end['rule']})" if end["rule"] else "")
                    for side, end in (("egress", flow["egress"]), ("ingress", flow["ingress"])) if end is not None]
            lines.append(f"IPv{path['family']} {flow['service']}: {flow['result']}; {'; '.join(ends)}")
    if "gained" in cell:
        lines += [f"gained: {cell['gained'] or 'nothing'}", f"lost: {cell['lost'] or 'nothing'}"]
    if len(lines) == 1:
        lines.append("nothing gets through")
    return "\n".join(lines)


def _cell_html(row: Mapping[str, Any], column: Mapping[str, Any], cell: Mapping[str, Any] | None, comparison: bool) -> str:
    attrs = f' data-from="{escape(row["key"])}" data-to="{escape(column["key"])}"'
    if row["key"] == column["key"]:
        return '<td class="cell self" title="the same host: over lo, never policed">-</td>'
    if cell is None:
        text = "no change" if comparison else "-"
        return f'<td class="cell none"{attrs} title="{escape(text)}">{escape(text)}</td>'
    if comparison:
        classes = ["cell"] + (["gained"] if cell["gained"] else []) + (["lost"] if cell["lost"] else [])
        content = "".join(f'<span class="{kind}">{sign}{escape(part)}</span>' for kind, sign, text in
                          (("gain", "+ ", cell["gained"]), ("loss", "- ", cell["lost"])) if text for part in text.split(" | "))
    else:
        kind = "allow" if cell["allow"] else ("unpoliced-only" if cell["unpoliced"] else "none")
        classes = ["cell", kind]
        content = "".join(f'<span class="svc">{escape(part)}</span>' for part in cell["allow"].split("; ") if part)
        if cell["unpoliced"]:
            content += f'<span class="unpoliced">unpoliced: {escape(cell["unpoliced"])}</span>'
        content = content or "nothing"
    return f'<td class="{" ".join(classes)}"{attrs} title="{escape(_cell_title(cell))}">{content}</td>'


def render_page(data: Mapping[str, Any], title: str) -> str:
    """The page for ``reachability.report_data`` or ``comparison_data``."""
    comparison = data["kind"] == "reachability comparison"
    group_by = data.get("group_by")
    rows, columns = data["rows"], data["columns"]
    cells = {(cell["from"], cell["to"]): cell for cell in data["cells"]}
    head = ['<tr><th colspan="2" rowspan="2">from \\ to</th>' if group_by else '<tr><th>from \\ to</th>']
    if group_by:
        head += [f'<th class="group{" set-group" if is_set else ""}" colspan="{span}">{escape(value)}</th>'
                 for value, span, is_set in _group_cells(columns, group_by)]
        head.append("</tr><tr>")
    head += [f'<th class="{"host" if c["kind"] == HOST else "set"}" title="{escape(_labels(c))}">{escape(_party_label(c))}</th>' for c in columns]
    head.append("</tr>")
    body = []
    groups = iter(_group_cells(rows, group_by)) if group_by else None
    left = 0
    for row in rows:
        line = ["<tr>"]
        if groups is not None and left == 0:
            value, left, is_set = next(groups)
            line.append(f'<th class="group{" set-group" if is_set else ""}" rowspan="{left}">{escape(value)}</th>')
        left -= 1
        line.append(f'<th class="{"host" if row["kind"] == HOST else "set"}" title="{escape(_labels(row))}">{escape(_party_label(row))}</th>')
        line += [_cell_html(row, column, cells.get((row["key"], column["key"])), comparison) for column in columns]
        line.append("</tr>")
        body.append("".join(line))
    if comparison:
        intro = (f"{len(data['cells'])} pairs change between the two inventories. Green: services gained, red: services lost. "
                 "Click a cell for its changes.")
        legend = '<span class="gain">+ gained</span><span class="loss">- lost</span>'
    else:
        intro = (f"{len(rows)} sources, {len(columns)} destinations, {data['verdicts']} verdicts (one per class of service and address"
                 f" pair, at each end) from {data['simulations']} packets simulated. Hover a cell for the deciding rules of both ends,"
                 " click it for every flow.")
        legend = ('<span style="background:#e3f4e1">allowed by policy</span><span style="background:#fff4d6">only unpoliced</span>'
                  '<span style="background:#f7f7f7">nothing</span>')
    warnings = "".join(f"<p class=\"meta\">warning: {escape(w)}</p>" for w in data.get("warnings", ()))
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title>",
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">',
        f"<style>{STYLE}</style></head>\n<body>\n",
        f"<h1>{escape(title)}</h1>\n<p class=\"meta\">{escape(intro)}</p>\n{warnings}",
        f'<p class="meta legend">{legend}</p>\n',
        '<div id="tools"><label>Find cells holding: <input id="filter" type="search" placeholder="TCP 5432"></label></div>\n',
        '<div id="error"></div>\n',
        '<table class="matrix"><thead>', "".join(head), "</thead>\n<tbody>\n", "\n".join(body), "\n</tbody></table>\n",
        '<div id="details">Click a cell to see every flow and the rule that decides it at each end.</div>\n',
        f'<script type="application/json" id="reachability-data">{to_json(data)}</script>\n',
        f"<script>{SCRIPT}</script>\n</body></html>\n",
    ])


def _labels(party: Mapping[str, Any]) -> str:
    labels = ", ".join(f"{key}={value}" for key, value in party["labels"].items())
    addresses = ", ".join(a["address"] + (f" ({a['interface']})" if a["interface"] else "") for a in party["addresses"])
    policed = "" if party["policed"] or party["kind"] != HOST else "\nnot policed: no host endpoint"
    return f"{_party_label(party)}\nlabels: {labels or 'none'}\naddresses: {addresses or 'none known'}{policed}"
