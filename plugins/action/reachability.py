# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action: which services every inventory host can reach on every other, and
which rules decide (docs/reachability.md). No host is contacted.

Thin on purpose: read the inventory (and, with ``compare``, another one), let the engine
compute and render, write the files.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.inventory.manager import InventoryManager
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.palisade.firewall.plugins.modules.reachability import ARGUMENT_SPEC
from ansible_collections.palisade.firewall.plugins.plugin_utils.action_support.fleet_action import FleetAction
from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import PalisadeError
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.hosts import Fleet, load_fleet, settle
from ansible_collections.palisade.firewall.plugins.plugin_utils.fleet.inventory import fleet_inputs_from_task_vars
from ansible_collections.palisade.firewall.plugins.plugin_utils.report import reachability as engine
from ansible_collections.palisade.firewall.plugins.plugin_utils.report.reachability_html import render_page


class ActionModule(FleetAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def work(self, fleet, args, task_vars):
        html_path = _output_path(args.get("output"))
        old_fleet = self._other_fleet(args["compare"]) if args.get("compare") is not None else None
        report = engine.reachability(fleet, args.get("from"), args.get("to"), args.get("group_by"))
        if old_fleet is None:
            data = engine.report_data(report)
            text = engine.text_report(report)
            cells = [{"from": c["from"], "to": c["to"], "allow": c["allow"], "unpoliced": c["unpoliced"]} for c in data["cells"]]
            title = "palisade.firewall reachability"
        else:
            old = engine.reachability(old_fleet, args.get("from"), args.get("to"), args.get("group_by"), baseline=True)
            changes = engine.compare(old, report)
            data = engine.comparison_data(old, report, changes)
            text = engine.text_comparison(old, report, changes)
            cells = [{"from": c["from"], "to": c["to"], "gained": c["gained"], "lost": c["lost"]} for c in data["cells"]]
            title = "palisade.firewall reachability changes"
        files = []
        if html_path is not None:
            json_path = html_path[: -len(".html")] + ".json"
            _write(html_path, render_page(data, title))
            _write(json_path, engine.to_json(data))
            files = [html_path, json_path]
        lines = text.splitlines()
        return {"lines": lines, "summary": lines[0], "cells": cells, "files": files}, list(report.warnings)

    def _other_fleet(self, path: str) -> Fleet:
        """The inventory at ``path``, read as Ansible reads one (its group_vars and host_vars too)."""
        if not os.path.exists(path):
            raise PalisadeError(f"compare: expected the path of an inventory (a file or directory) to compare with, but {path!r} does not exist")
        inventory = InventoryManager(loader=self._loader, sources=[path])
        if not inventory.hosts and not inventory.get_hosts():
            raise PalisadeError(f"compare: the inventory {path!r} holds no host")
        variables = VariableManager(loader=self._loader, inventory=inventory)
        task_vars = {"groups": inventory.get_groups_dict(), "hostvars": HostVars(inventory, variables, self._loader)}
        return settle(load_fleet(fleet_inputs_from_task_vars(task_vars)))


def _output_path(value: Any) -> str | None:
    if value is None:
        return None
    path = str(value)
    if not path.endswith(".html"):
        raise PalisadeError(f"output: expected the path of an HTML file to write, ending in .html, got {path!r}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise PalisadeError(f"output: the directory {directory!r} does not exist (expected a path in an existing directory)")
    return path


def _write(path: str, text: str) -> None:
    """Written whole or not at all: a reader never sees half a page."""
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(partial, path)
