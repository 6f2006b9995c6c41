# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings: ``palisade_*`` variables and FelixConfiguration specs (DESIGN 3.3, check 36 of (h))."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.palisade.firewall.plugins.plugin_utils.errors import Problems, Where
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.felix_fields import FELIX_SPEC_FIELDS
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.resources import FailsafePort, Settings
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import FELIX_FIELDS as FELIX_FIELDS_TABLE
from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import (
    DEFAULT_SETTINGS,
    FELIX_FIELDS_DEFAULT_ONLY,
    FELIX_FIELDS_IGNORED,
    build_settings,
    load_felix_configuration,
    load_settings_variables,
)

INBOUND = "palisade_failsafe_inbound_host_ports"
FELIX_FIELDS = (
    "(expected one of: chainInsertMode, defaultEndpointToHostAction, disableConntrackInvalidCheck, failsafeInboundHostPorts, "
    "failsafeOutboundHostPorts, interfacePrefix, iptablesFilterAllowAction, iptablesFilterDenyAction, iptablesMangleAllowAction, "
    "ipv6Support, logPrefix, nftablesFilterAllowAction, nftablesFilterDenyAction, nftablesMangleAllowAction)"
)
LOG_PREFIX = "expected 1-27 characters of letters, digits, ':', '/', '_', '.' and '-'"
PREFIX = "expected an interface name prefix (1-14 of letters, digits, '_', '.', '-')"


def variables(host_vars):
    problems = Problems()
    values = load_settings_variables(host_vars, Where("host h1", problems))
    return values, [str(p) for p in problems.items]


def felix(spec):
    problems = Problems()
    values = load_felix_configuration(spec, Where("fc", problems).at("spec"))
    return values, [str(p) for p in problems.items], [str(p) for p in problems.warnings]


def params(table):
    return [pytest.param(*values, id=case_id) for case_id, *values in table]


def net(text):
    return ipaddress.ip_network(text)


# --- defaults: the seed's failsafe table -----------------------------------------------------


def test_defaults_are_the_seed_table():
    assert DEFAULT_SETTINGS == Settings(
        failsafe_inbound_host_ports=tuple(
            FailsafePort(p, n)
            for p, n in [("tcp", 22), ("udp", 68), ("tcp", 179), ("tcp", 2379), ("tcp", 2380), ("tcp", 6666), ("tcp", 6667)]
        ),
        failsafe_outbound_host_ports=tuple(
            FailsafePort(p, n)
            for p, n in [("udp", 53), ("udp", 67), ("tcp", 179), ("tcp", 2379), ("tcp", 2380), ("tcp", 6666), ("tcp", 6667)]
        ),
        default_endpoint_to_host_action="Drop",
        interface_prefixes=("cali",),
        chain_insert_mode="insert",
        log_prefix="palisade",
        strict_addresses=False,
    )


def test_no_variables_no_settings():
    assert variables({"palisade_labels": {}, "other": 1}) == ({}, [])


# --- failsafe entries ------------------------------------------------------------------------

FAILSAFE_OK = [
    ("tcp", {"protocol": "tcp", "port": 22}, FailsafePort("tcp", 22)),
    ("udp upper case", {"protocol": "UDP", "port": 68}, FailsafePort("udp", 68)),
    ("protocol defaults to tcp", {"port": 2379}, FailsafePort("tcp", 2379)),
    ("digit string port", {"protocol": "tcp", "port": "6443"}, FailsafePort("tcp", 6443)),
    ("with a network", {"protocol": "tcp", "port": 22, "net": "198.51.100.0/24"}, FailsafePort("tcp", 22, net("198.51.100.0/24"))),
    ("with an address", {"protocol": "tcp", "port": 22, "net": "2001:db8::1"}, FailsafePort("tcp", 22, net("2001:db8::1/128"))),
    ("port 1", {"port": 1}, FailsafePort("tcp", 1)),
    ("port 65535", {"port": 65535}, FailsafePort("tcp", 65535)),
    ("port 0, as in Calico", {"port": 0}, FailsafePort("tcp", 0)),
    ("sctp", {"protocol": "sctp", "port": 5000}, FailsafePort("sctp", 5000)),
    ("SCTP upper case", {"protocol": "SCTP", "port": 5000}, FailsafePort("sctp", 5000)),
    ("empty net means any", {"protocol": "tcp", "port": 22, "net": ""}, FailsafePort("tcp", 22)),
]


@pytest.mark.parametrize(("entry", "expected"), params(FAILSAFE_OK))
def test_failsafe_entries(entry, expected):
    assert variables({INBOUND: [entry]}) == ({"failsafe_inbound_host_ports": (expected,)}, [])


def test_empty_failsafe_list_means_no_failsafe_ports():
    assert variables({INBOUND: []}) == ({"failsafe_inbound_host_ports": ()}, [])


FAILSAFE_ERRORS = [
    ("icmp", {"protocol": "icmp", "port": 1}, [f"host h1: {INBOUND}[0].protocol: invalid protocol 'icmp': expected tcp, udp or sctp"]),
    ("protocol number", {"protocol": 6, "port": 22}, [f"host h1: {INBOUND}[0].protocol: expected a string, got an integer"]),
    ("port -1", {"protocol": "tcp", "port": -1}, [f"host h1: {INBOUND}[0].port: port -1 is out of range 0-65535"]),
    ("port 65536", {"protocol": "tcp", "port": 65536}, [f"host h1: {INBOUND}[0].port: port 65536 is out of range 0-65535"]),
    ("port range", {"protocol": "tcp", "port": "22:30"}, [f"host h1: {INBOUND}[0].port: expected a port (0-65535), got a string '22:30'"]),
    ("port missing", {"protocol": "tcp"}, [f"host h1: {INBOUND}[0].port: is required"]),
    (
        "net with host bits",
        {"port": 22, "net": "10.0.0.1/8"},
        [f"host h1: {INBOUND}[0].net: invalid IP network '10.0.0.1/8': host bits are set; did you mean 10.0.0.0/8?"],
    ),
    (
        "net not a network",
        {"port": 22, "net": "mgmt"},
        [f"host h1: {INBOUND}[0].net: invalid IP network 'mgmt': expected an address or CIDR such as 198.51.100.0/24 or 2001:db8::/32"],
    ),
    (
        "typo ports",
        {"protocol": "tcp", "ports": 22},
        [
            f"host h1: {INBOUND}[0].ports: unknown field; did you mean 'port'? (expected one of: net, port, protocol)",
            f"host h1: {INBOUND}[0].port: is required",
        ],
    ),
    ("Felix's string form", "tcp:22", [f"host h1: {INBOUND}[0]: expected a mapping with protocol, port and optionally net, got a string"]),
    (
        "every problem of an entry",
        {"protocol": "gre", "port": 65536, "net": "10.0.0.1/8"},
        [
            f"host h1: {INBOUND}[0].protocol: invalid protocol 'gre': expected tcp, udp or sctp",
            f"host h1: {INBOUND}[0].port: port 65536 is out of range 0-65535",
            f"host h1: {INBOUND}[0].net: invalid IP network '10.0.0.1/8': host bits are set; did you mean 10.0.0.0/8?",
        ],
    ),
]


@pytest.mark.parametrize(("entry", "expected"), params(FAILSAFE_ERRORS))
def test_failsafe_entry_errors(entry, expected):
    assert variables({INBOUND: [{"protocol": "tcp", "port": 22}, entry]}) == ({}, [e.replace("[0]", "[1]", 1) for e in expected])


def test_failsafe_list_not_a_list():
    assert variables({"palisade_failsafe_outbound_host_ports": {"protocol": "udp", "port": 53}}) == (
        {},
        ["host h1: palisade_failsafe_outbound_host_ports: expected a list of {protocol, port, net} entries, got a mapping"],
    )


# --- the other variables ---------------------------------------------------------------------

VARIABLES_OK = [
    ("action Drop", {"palisade_default_endpoint_to_host_action": "Drop"}, {"default_endpoint_to_host_action": "Drop"}),
    ("action Accept", {"palisade_default_endpoint_to_host_action": "Accept"}, {"default_endpoint_to_host_action": "Accept"}),
    ("action in any case", {"palisade_default_endpoint_to_host_action": "return"}, {"default_endpoint_to_host_action": "Return"}),
    ("insert mode", {"palisade_chain_insert_mode": "append"}, {"chain_insert_mode": "append"}),
    ("insert mode any case", {"palisade_chain_insert_mode": "Insert"}, {"chain_insert_mode": "insert"}),
    ("interface prefixes", {"palisade_interface_prefixes": ["cali", "tap", "veth"]}, {"interface_prefixes": ("cali", "tap", "veth")}),
    ("no interface prefixes", {"palisade_interface_prefixes": []}, {"interface_prefixes": ()}),
    ("log prefix", {"palisade_log_prefix": "fw:drop/v4_x.y-z"}, {"log_prefix": "fw:drop/v4_x.y-z"}),
    ("log prefix of 27", {"palisade_log_prefix": "p" * 27}, {"log_prefix": "p" * 27}),
    ("strict addresses", {"palisade_strict_addresses": True}, {"strict_addresses": True}),
    ("IPv6 support off", {"palisade_ipv6_support": False}, {"ipv6_support": False}),
    ("IPv6 support on", {"palisade_ipv6_support": True}, {"ipv6_support": True}),
    ("null means unset", {"palisade_log_prefix": None}, {}),
]


@pytest.mark.parametrize(("host_vars", "expected"), params(VARIABLES_OK))
def test_variables(host_vars, expected):
    assert variables(host_vars) == (expected, [])


VARIABLE_ERRORS = [
    (
        "action Reject",
        {"palisade_default_endpoint_to_host_action": "Reject"},
        ["host h1: palisade_default_endpoint_to_host_action: expected one of Drop, Accept, Return, got 'Reject'"],
    ),
    (
        "action not a string",
        {"palisade_default_endpoint_to_host_action": False},
        ["host h1: palisade_default_endpoint_to_host_action: expected one of Drop, Accept, Return, got False"],
    ),
    (
        "insert mode prepend",
        {"palisade_chain_insert_mode": "prepend"},
        ["host h1: palisade_chain_insert_mode: expected one of insert, append, got 'prepend'"],
    ),
    (
        "prefixes as a string",
        {"palisade_interface_prefixes": "cali"},
        ["host h1: palisade_interface_prefixes: expected a list of interface name prefixes, got a string 'cali'"],
    ),
    (
        "bad prefixes",
        {"palisade_interface_prefixes": ["cali", "", 5, "tap*"]},
        [
            f"host h1: palisade_interface_prefixes[1]: {PREFIX}, got a string ''",
            f"host h1: palisade_interface_prefixes[2]: {PREFIX}, got an integer 5",
            f"host h1: palisade_interface_prefixes[3]: {PREFIX}, got a string 'tap*'",
        ],
    ),
    ("log prefix too long", {"palisade_log_prefix": "p" * 28}, [f"host h1: palisade_log_prefix: {LOG_PREFIX}, got a string '{'p' * 28}'"]),
    ("log prefix empty", {"palisade_log_prefix": ""}, [f"host h1: palisade_log_prefix: {LOG_PREFIX}, got a string ''"]),
    (
        "log prefix with a space",
        {"palisade_log_prefix": "fw drop"},
        [f"host h1: palisade_log_prefix: {LOG_PREFIX}, got a string 'fw drop'"],
    ),
    ("log prefix with a quote", {"palisade_log_prefix": 'fw"'}, [f"host h1: palisade_log_prefix: {LOG_PREFIX}, got a string 'fw\"'"]),
    ("log prefix a number", {"palisade_log_prefix": 7}, [f"host h1: palisade_log_prefix: {LOG_PREFIX}, got an integer 7"]),
    (
        "strict addresses a string",
        {"palisade_strict_addresses": "yes"},
        ["host h1: palisade_strict_addresses: expected true or false, got a string 'yes'"],
    ),
    (
        "IPv6 support a string",
        {"palisade_ipv6_support": "false"},
        ["host h1: palisade_ipv6_support: expected true or false, got a string 'false'"],
    ),
]


@pytest.mark.parametrize(("host_vars", "expected"), params(VARIABLE_ERRORS))
def test_variable_errors(host_vars, expected):
    assert variables(host_vars) == ({}, expected)


def test_every_bad_variable_is_reported():
    values, problems = variables(
        {
            INBOUND: [{"protocol": "tcp", "port": -1}],
            "palisade_default_endpoint_to_host_action": "Reject",
            "palisade_chain_insert_mode": "append",
            "palisade_log_prefix": "",
        }
    )
    assert values == {"chain_insert_mode": "append"}
    assert problems == [
        f"host h1: {INBOUND}[0].port: port -1 is out of range 0-65535",
        "host h1: palisade_default_endpoint_to_host_action: expected one of Drop, Accept, Return, got 'Reject'",
        f"host h1: palisade_log_prefix: {LOG_PREFIX}, got a string ''",
    ]


# --- FelixConfiguration specs ----------------------------------------------------------------

FELIX_OK = [
    (
        "failsafe ports",
        {"failsafeInboundHostPorts": [{"protocol": "tcp", "port": 22}]},
        {"failsafe_inbound_host_ports": (FailsafePort("tcp", 22),)},
    ),
    (
        "snake_case alias",
        {"failsafe_outbound_host_ports": [{"protocol": "udp", "port": 53}]},
        {"failsafe_outbound_host_ports": (FailsafePort("udp", 53),)},
    ),
    ("action in Felix's upper case", {"defaultEndpointToHostAction": "ACCEPT"}, {"default_endpoint_to_host_action": "Accept"}),
    ("interfacePrefix is a comma list", {"interfacePrefix": "cali, tap"}, {"interface_prefixes": ("cali", "tap")}),
    ("chainInsertMode Calico spelling", {"chainInsertMode": "Append"}, {"chain_insert_mode": "append"}),
    ("logPrefix", {"logPrefix": "calico-packet"}, {"log_prefix": "calico-packet"}),
    (
        "default-only fields at their default",
        {"iptablesFilterAllowAction": "Accept", "iptablesMangleAllowAction": "ACCEPT", "iptablesFilterDenyAction": "Drop"},
        {},
    ),
    (
        "nftables default-only fields at their default",
        {"nftablesFilterAllowAction": "Accept", "nftablesMangleAllowAction": "accept", "nftablesFilterDenyAction": "DROP"},
        {},
    ),
    ("conntrack invalid check kept", {"disableConntrackInvalidCheck": False}, {}),
    ("ipv6Support false", {"ipv6Support": False}, {"ipv6_support": False}),
    ("ipv6_support alias", {"ipv6_support": True}, {"ipv6_support": True}),
    ("empty spec", {}, {}),
]


@pytest.mark.parametrize(("spec", "expected"), params(FELIX_OK))
def test_felix_configuration(spec, expected):
    assert felix(spec) == (expected, [], [])


FELIX_ERRORS = [
    (
        "typo",
        {"failsafeInboundHostPort": []},
        [f"fc: spec.failsafeInboundHostPort: unknown field; did you mean 'failsafeInboundHostPorts'? {FELIX_FIELDS}"],
    ),
    # Not a FelixConfiguration field in any Calico release.
    ("unknown field", {"hostFirewallMode": True}, [f"fc: spec.hostFirewallMode: unknown field {FELIX_FIELDS}"]),
    ("unknown field, wrong case", {"ipv6support": False}, [f"fc: spec.ipv6support: unknown field; did you mean 'ipv6Support'? {FELIX_FIELDS}"]),
    ("ipv6Support a string", {"ipv6Support": "false"}, ["fc: spec.ipv6Support: expected true or false, got a string 'false'"]),
    (
        "conntrack invalid check disabled is not supported",
        {"disableConntrackInvalidCheck": True},
        ["fc: spec.disableConntrackInvalidCheck: only false (Calico's default) is supported, got true"],
    ),
    (
        "conntrack invalid check not a boolean",
        {"disableConntrackInvalidCheck": "no"},
        ["fc: spec.disableConntrackInvalidCheck: expected true or false, got a string 'no'"],
    ),
    (
        "nftables deny action Reject is not supported",
        {"nftablesFilterDenyAction": "Reject"},
        ["fc: spec.nftablesFilterDenyAction: only Drop (Calico's default) is supported, got 'Reject'"],
    ),
    (
        "bad action",
        {"defaultEndpointToHostAction": "Reject"},
        ["fc: spec.defaultEndpointToHostAction: expected one of Drop, Accept, Return, got 'Reject'"],
    ),
    ("bad insert mode", {"chainInsertMode": "Prepend"}, ["fc: spec.chainInsertMode: expected one of insert, append, got 'Prepend'"]),
    (
        "bad failsafe entry",
        {"failsafeOutboundHostPorts": [{"protocol": "tcp", "port": 70000}]},
        ["fc: spec.failsafeOutboundHostPorts[0].port: port 70000 is out of range 0-65535"],
    ),
    ("bad interface prefix", {"interfacePrefix": "cali,tap*"}, [f"fc: spec.interfacePrefix[1]: {PREFIX}, got a string 'tap*'"]),
    ("logPrefix with %", {"logPrefix": "calico-%t"}, [f"fc: spec.logPrefix: {LOG_PREFIX}, got a string 'calico-%t'"]),
    (
        "deny action Reject is not supported",
        {"iptablesFilterDenyAction": "Reject"},
        ["fc: spec.iptablesFilterDenyAction: only Drop (Calico's default) is supported, got 'Reject'"],
    ),
    (
        "allow action Return is not supported",
        {"iptablesFilterAllowAction": "Return"},
        ["fc: spec.iptablesFilterAllowAction: only Accept (Calico's default) is supported, got 'Return'"],
    ),
    (
        "invalid allow action",
        {"iptablesMangleAllowAction": "Drop"},
        ["fc: spec.iptablesMangleAllowAction: expected one of Accept, Return, got 'Drop'"],
    ),
    ("both spellings", {"logPrefix": "a", "log_prefix": "b"}, ["fc: spec.log_prefix: given twice, as 'logPrefix' and 'log_prefix'"]),
]


@pytest.mark.parametrize(("spec", "expected"), params(FELIX_ERRORS))
def test_felix_configuration_errors(spec, expected):
    assert felix(spec)[1:] == (expected, [])


def test_felix_fields_without_effect_are_a_warning():
    values, problems, warnings = felix({"logSeverityScreen": "Info", "ipip_enabled": True, "logPrefix": "x"})
    assert (values, problems) == ({"log_prefix": "x"}, [])
    assert warnings == [
        "fc: spec.logSeverityScreen: ignored: this Felix setting has no effect on host firewalls",
        "fc: spec.ipip_enabled: ignored: this Felix setting has no effect on host firewalls",
    ]


IGNORED = "ignored: this Felix setting has no effect on host firewalls"
FELIX_WARNINGS = [
    ("BPF field", {"bpfKubeProxyIptablesCleanupEnabled": True}, [f"fc: spec.bpfKubeProxyIptablesCleanupEnabled: {IGNORED}"]),
    ("WireGuard field, snake_case", {"wireguard_mtu": 1420}, [f"fc: spec.wireguard_mtu: {IGNORED}"]),
    ("field of older releases", {"iptablesLockTimeout": "10s"}, [f"fc: spec.iptablesLockTimeout: {IGNORED}"]),
    (
        "exported configuration",
        {"ipv6Support": False, "routeRefreshInterval": "90s", "reportingInterval": "0s", "vxlanVNI": 4096, "featureGates": ""},
        [f"fc: spec.{name}: {IGNORED}" for name in ("routeRefreshInterval", "reportingInterval", "vxlanVNI", "featureGates")],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), params(FELIX_WARNINGS))
def test_felix_fields_without_effect_name_the_field(spec, expected):
    assert felix(spec)[1:] == ([], expected)


def test_every_felix_spec_field_is_known():
    """Every field of the table loads: implemented, default-only or ignored with a warning."""
    for name in sorted(FELIX_SPEC_FIELDS):
        assert name in FELIX_FIELDS_TABLE or name in FELIX_FIELDS_DEFAULT_ONLY or name in FELIX_FIELDS_IGNORED, name
    assert len(FELIX_FIELDS_IGNORED) == len(FELIX_SPEC_FIELDS) - len(FELIX_FIELDS_TABLE) - len(FELIX_FIELDS_DEFAULT_ONLY)
    assert {"ipipEnabled", "bpfEnabled", "nftablesMode", "floatingIPs", "interfaceExclude"} <= set(FELIX_FIELDS_IGNORED)


# --- precedence ------------------------------------------------------------------------------


def test_build_settings_later_sources_win():
    settings = build_settings(
        {"default_endpoint_to_host_action": "Accept", "log_prefix": "default"},
        {"log_prefix": "node"},
        {"chain_insert_mode": "append"},
    )
    assert settings == Settings(
        failsafe_inbound_host_ports=DEFAULT_SETTINGS.failsafe_inbound_host_ports,
        failsafe_outbound_host_ports=DEFAULT_SETTINGS.failsafe_outbound_host_ports,
        default_endpoint_to_host_action="Accept",
        chain_insert_mode="append",
        log_prefix="node",
    )


def test_build_settings_without_sources_is_the_default():
    assert build_settings() == DEFAULT_SETTINGS


# --- interface prefixes: exactly what rendering takes ("<prefix>+" within IFNAMSIZ) ------------

PREFIX_LENGTHS = [
    ("14 characters", {"palisade_interface_prefixes": ["p" * 14]}, {"interface_prefixes": ("p" * 14,)}, []),
    (
        "15 characters",
        {"palisade_interface_prefixes": ["p" * 15]},
        {},
        [f"host h1: palisade_interface_prefixes[0]: {PREFIX}, got a string '{'p' * 15}'"],
    ),
]


@pytest.mark.parametrize(("host_vars", "values", "expected"), params(PREFIX_LENGTHS))
def test_interface_prefix_length(host_vars, values, expected):
    assert variables(host_vars) == (values, expected)


def test_felix_interface_prefix_length():
    values, errors, _warnings = felix({"interfacePrefix": f"cali,{'p' * 15}"})
    assert values == {}
    assert errors == [f"fc: spec.interfacePrefix[1]: {PREFIX}, got a string '{'p' * 15}'"]


def test_interface_prefix_limit_is_the_renderers():
    from ansible_collections.palisade.firewall.plugins.plugin_utils.compiler import ir
    from ansible_collections.palisade.firewall.plugins.plugin_utils.render.iptables_syntax import RenderError, interface_text
    from ansible_collections.palisade.firewall.plugins.plugin_utils.model.settings_loader import MAX_INTERFACE_PREFIX

    longest = "p" * MAX_INTERFACE_PREFIX
    assert interface_text(ir.Interface(longest, prefix=True)) == longest + "+"
    with pytest.raises(RenderError):
        interface_text(ir.Interface(longest + "p", prefix=True))
