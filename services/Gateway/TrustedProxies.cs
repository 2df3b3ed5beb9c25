using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using IPNetwork = System.Net.IPNetwork;

namespace Keys.Gateway;

/// <summary>
/// Which peers may say who the client is. Only proxies the operator names (<c>Gateway:TrustedProxies</c>,
/// <c>Gateway:TrustedNetworks</c>) are believed about <c>X-Forwarded-For</c>; with none named, the header is never
/// read, and the invalid-key throttle counts the connection's own address.
/// </summary>
public static class TrustedProxies
{
    public static bool AreConfigured(GatewayOptions gateway) => gateway.TrustedProxies.Length > 0 || gateway.TrustedNetworks.Length > 0;

    public static bool AreValid(GatewayOptions gateway) =>
        gateway.TrustedProxies.All(p => IPAddress.TryParse(p, out _)) && gateway.TrustedNetworks.All(n => IPNetwork.TryParse(n, out _));

    public static void Configure(ForwardedHeadersOptions forwarded, GatewayOptions gateway)
    {
        // ASP.NET Core trusts loopback out of the box; here, only what the operator names.
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var proxy in gateway.TrustedProxies)
        {
            forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
        }

        foreach (var network in gateway.TrustedNetworks)
        {
            forwarded.KnownIPNetworks.Add(IPNetwork.Parse(network));
        }

        // The client address only: scheme and host stay what the connection says.
        forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;

        // X-Forwarded-For is read from the right, one hop per trusted proxy, up to the first address that is not one:
        // whatever a client wrote to its left is never reached. The default limit of one hop would stop behind two
        // proxies at the inner one's address, putting every client in one partition of the throttle.
        forwarded.ForwardLimit = null;
    }
}
