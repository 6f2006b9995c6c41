# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every field name a Calico FelixConfiguration spec may have: a data table.

Private to the collection: the engine's API may change at any time.

The names are those of Calico's v3 ``FelixConfigurationSpec`` (projectcalico.org/v3), plus a
few that older releases had (``iptablesLockFilePath``, ``iptablesLockTimeout``,
``bpfKubeProxyEndpointSlicesEnabled``) so that a configuration exported from such a cluster
still loads. The settings loader implements some of them, accepts a few only at Calico's
default, and accepts the rest with a warning; a name outside this table is not a Felix field
and stays an error. Grouped by the first word of the name; keep each group sorted.
"""

from __future__ import annotations

FELIX_SPEC_FIELDS = frozenset(
    (
        "allowIPIPPacketsFromWorkloads", "allowVXLANPacketsFromWorkloads",
        "awsSrcDstCheck",
        "bpfAttachType", "bpfConnectTimeLoadBalancing", "bpfConnectTimeLoadBalancingEnabled", "bpfConntrackLogLevel",
        "bpfConntrackMode", "bpfConntrackTimeouts", "bpfCTLBLogFilter", "bpfDataIfacePattern", "bpfDisableGROForIfaces",
        "bpfDisableUnprivileged", "bpfDSROptoutCIDRs", "bpfEnabled", "bpfEnforceRPF", "bpfExcludeCIDRsFromNAT",
        "bpfExportBufferSizeMB", "bpfExternalServiceMode", "bpfExtToServiceConnmark", "bpfForceTrackPacketsFromIfaces",
        "bpfHostConntrackBypass", "bpfHostNetworkedNATWithoutCTLB", "bpfIPFragmentReassemblyEnabled", "bpfIPFragTimeout",
        "bpfJITHardening", "bpfKubeProxyEndpointSlicesEnabled", "bpfKubeProxyHealthzPort",
        "bpfKubeProxyIptablesCleanupEnabled", "bpfKubeProxyMinSyncPeriod", "bpfL3IfacePattern", "bpfLogFilters",
        "bpfLogLevel", "bpfMaglevMaxEndpointsPerService", "bpfMaglevMaxServices", "bpfMapSizeConntrack",
        "bpfMapSizeConntrackCleanupQueue", "bpfMapSizeConntrackScaling", "bpfMapSizeIfState", "bpfMapSizeIPSets",
        "bpfMapSizeNATAffinity", "bpfMapSizeNATBackend", "bpfMapSizeNATFrontend", "bpfMapSizePerCpuConntrack",
        "bpfMapSizeRoute", "bpfOverlayHostSourceIP", "bpfPolicyDebugEnabled", "bpfProfiling", "bpfPSNATPorts",
        "bpfRedirectToPeer",
        "cgroupV2Path",
        "chainInsertMode",
        "dataplaneDriver", "dataplaneWatchdogTimeout",
        "debugDisableLogDropping", "debugHost", "debugMemoryProfilePath", "debugPort", "debugSimulateCalcGraphHangAfter",
        "debugSimulateDataplaneApplyDelay", "debugSimulateDataplaneHangAfter",
        "defaultEndpointToHostAction",
        "deviceRouteProtocol", "deviceRouteSourceAddress", "deviceRouteSourceAddressIPv6",
        "disableConntrackInvalidCheck",
        "endpointReportingDelay", "endpointReportingEnabled", "endpointStatusPathPrefix",
        "externalNodesList",
        "failsafeInboundHostPorts", "failsafeOutboundHostPorts",
        "featureDetectOverride", "featureGates",
        "floatingIPs",
        "flowLogsCollectorDebugTrace", "flowLogsFlushInterval", "flowLogsGoldmaneServer", "flowLogsLocalReporter",
        "flowLogsPolicyEvaluationMode",
        "genericXDPEnabled",
        "goGCThreshold", "goMaxProcs", "goMemoryLimitMB",
        "healthEnabled", "healthHost", "healthPort", "healthTimeoutOverrides",
        "interfaceExclude", "interfacePrefix", "interfaceRefreshInterval",
        "ipForwarding",
        "ipipEnabled", "ipipMTU",
        "ipsetsRefreshInterval",
        "iptablesBackend", "iptablesFilterAllowAction", "iptablesFilterDenyAction", "iptablesLockFilePath",
        "iptablesLockProbeInterval", "iptablesLockTimeout", "iptablesMangleAllowAction", "iptablesMarkMask",
        "iptablesNATOutgoingInterfaceFilter", "iptablesPostWriteCheckInterval", "iptablesRefreshInterval",
        "ipv4ElevatedRoutePriority", "ipv4NormalRoutePriority", "ipv6ElevatedRoutePriority", "ipv6NormalRoutePriority",
        "ipv6Support",
        "istioAmbientMode", "istioDSCPMark",
        "kubeNodePortRanges",
        "liveMigrationRouteConvergenceTime",
        "localSubnetL2Reachability", "localSubnetL2ReachabilityRefreshInterval",
        "logActionRateLimit", "logActionRateLimitBurst", "logDebugFilenameRegex", "logFilePath", "logPrefix",
        "logSeverityFile", "logSeverityScreen", "logSeveritySys",
        "maxIpsetSize",
        "metadataAddr", "metadataPort",
        "mtuIfacePattern",
        "natOutgoingAddress", "natOutgoingExclusions", "natPortRange",
        "netlinkTimeout",
        "nftablesFilterAllowAction", "nftablesFilterDenyAction", "nftablesFlowTableDataIfacePattern",
        "nftablesFlowTableOffload", "nftablesMangleAllowAction", "nftablesMarkMask", "nftablesMode",
        "nftablesRefreshInterval",
        "nodeSelector",
        "openstackRegion",
        "policySyncPathPrefix",
        "programClusterRoutes",
        "prometheusGoMetricsEnabled", "prometheusMetricsCAFile", "prometheusMetricsCertFile",
        "prometheusMetricsClientAuth", "prometheusMetricsEnabled", "prometheusMetricsHost", "prometheusMetricsKeyFile",
        "prometheusMetricsPort", "prometheusProcessMetricsEnabled", "prometheusWireGuardMetricsEnabled",
        "removeExternalRoutes",
        "reportingInterval", "reportingTTL",
        "requireMTUFile",
        "routeRefreshInterval", "routeSource", "routeSyncDisabled", "routeTableRange", "routeTableRanges",
        "serviceLoopPrevention",
        "sidecarAccelerationEnabled",
        "usageReportingEnabled", "usageReportingInitialDelay", "usageReportingInterval",
        "useInternalDataplaneDriver",
        "vxlanEnabled", "vxlanMTU", "vxlanMTUV6", "vxlanPort", "vxlanVNI",
        "windowsManageFirewallRules",
        "wireguardEnabled", "wireguardEnabledV6", "wireguardHostEncryptionEnabled", "wireguardInterfaceName",
        "wireguardInterfaceNameV6", "wireguardKeepAlive", "wireguardListeningPort", "wireguardListeningPortV6",
        "wireguardMTU", "wireguardMTUV6", "wireguardRoutingRulePriority", "wireguardThreadingEnabled",
        "workloadSourceSpoofing",
        "xdpEnabled", "xdpRefreshInterval",
    )
)
