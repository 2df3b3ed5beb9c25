using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace Keys.Gateway.Authentication;

/// <summary>
/// With <see cref="GatewayOptions.KeyChecks"/> off, refuses any route that needs a key, each time the proxy's
/// configuration loads: at start the gateway does not start, and a reload that adds such a route is rejected (YARP
/// keeps the routes it had). Without this, the switch would silently open every keyed route.
/// </summary>
public sealed class KeyChecksOffFilter(IOptionsMonitor<GatewayOptions> options) : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel) => ValueTask.FromResult(cluster);

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        options.CurrentValue.KeyChecks || !RoutePolicy.Parse(route.Metadata).RequiresKey
            ? ValueTask.FromResult(route)
            : throw new InvalidOperationException(
                $"Route '{route.RouteId}' needs a key, and Gateway:KeyChecks is false: with key checks off every route must say KeyTypes: none.");
}
