using Keys.Gateway.Authentication;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;

namespace Keys.Gateway.UnitTests;

/// <summary>Gateway:KeyChecks=false never opens a route that needs a key: such a route fails the configuration's load.</summary>
public sealed class KeyChecksOffFilterTests
{
    [Theory]
    [InlineData("Production", false)]
    [InlineData("Staging", false)]
    [InlineData("production-eu", false)]
    [InlineData("Development", true)]
    [InlineData("Benchmark", true)]
    public void KeyChecksMayBeOffOnlyInDevelopmentAndBenchmark(string environment, bool allowed)
    {
        Assert.Equal(allowed, GatewayOptions.KeyChecksSettingAllowed(keyChecks: false, environment));
        Assert.True(GatewayOptions.KeyChecksSettingAllowed(keyChecks: true, environment));
    }

    [Fact]
    public async Task WithKeyChecksOffARouteThatNeedsAKeyIsRefused()
    {
        var filter = new KeyChecksOffFilter(new Fixed(new GatewayOptions { KeyChecks = false }));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await filter.ConfigureRouteAsync(Route("secret"), null, default));

        Assert.Contains("'keyed' needs a key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithKeyChecksOffARouteThatSaysNothingIsRefusedToo()
    {
        var filter = new KeyChecksOffFilter(new Fixed(new GatewayOptions { KeyChecks = false }));

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await filter.ConfigureRouteAsync(Route(null), null, default));
    }

    [Fact]
    public async Task WithKeyChecksOffAnOpenRouteLoads()
    {
        var filter = new KeyChecksOffFilter(new Fixed(new GatewayOptions { KeyChecks = false }));
        var route = Route("none");

        Assert.Same(route, await filter.ConfigureRouteAsync(route, null, default));
    }

    [Fact]
    public async Task WithKeyChecksOnEveryRouteLoads()
    {
        var filter = new KeyChecksOffFilter(new Fixed(new GatewayOptions()));
        var route = Route("secret");

        Assert.Same(route, await filter.ConfigureRouteAsync(route, null, default));
    }

    private static RouteConfig Route(string? keyTypes) => new()
    {
        RouteId = "keyed",
        ClusterId = "demo",
        Match = new RouteMatch { Path = "/x" },
        Metadata = keyTypes is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [RoutePolicy.MetadataKey] = keyTypes },
    };

    private sealed class Fixed(GatewayOptions value) : IOptionsMonitor<GatewayOptions>
    {
        public GatewayOptions CurrentValue => value;

        public GatewayOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<GatewayOptions, string?> listener) => null;
    }
}
