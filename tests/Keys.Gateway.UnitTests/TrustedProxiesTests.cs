using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Keys.Gateway.UnitTests;

/// <summary>The client address the gateway throttles, as ASP.NET Core's forwarded-headers middleware sets it from the gateway's options.</summary>
public sealed class TrustedProxiesTests
{
    [Fact]
    public void WithoutTrustedProxiesForwardedHeadersAreNotConfigured()
    {
        Assert.False(TrustedProxies.AreConfigured(new GatewayOptions()));
        Assert.True(TrustedProxies.AreConfigured(new GatewayOptions { TrustedNetworks = ["10.0.0.0/8"] }));
    }

    [Fact]
    public void ForwardedForFromATrustedProxyNamesTheClient() =>
        Assert.Equal("203.0.113.7", ClientSeen(new GatewayOptions { TrustedProxies = ["10.0.0.5"] }, from: "10.0.0.5", forwardedFor: "203.0.113.7"));

    [Fact]
    public void LoopbackIsNotTrustedUnlessNamed() =>
        Assert.Equal("127.0.0.1", ClientSeen(new GatewayOptions { TrustedProxies = ["10.0.0.5"] }, from: "127.0.0.1", forwardedFor: "203.0.113.7"));

    [Fact]
    public void EntriesAClientWroteLeftOfTheTrustedHopsAreNeverBelieved()
    {
        var gateway = new GatewayOptions { TrustedNetworks = ["10.0.0.0/8"] };

        // Two trusted hops: the client is the first address, from the right, that is not one of them.
        Assert.Equal("203.0.113.7", ClientSeen(gateway, from: "10.0.0.5", forwardedFor: "198.51.100.1, 203.0.113.7, 10.0.0.6"));
    }

    [Theory]
    [InlineData("not-an-address", "")]
    [InlineData("", "10.0.0.0")]
    [InlineData("", "10.0.0.0/33")]
    public void MalformedProxiesAreAConfigurationError(string proxy, string network)
    {
        var gateway = new GatewayOptions
        {
            TrustedProxies = proxy.Length == 0 ? [] : [proxy],
            TrustedNetworks = network.Length == 0 ? [] : [network],
        };

        Assert.False(TrustedProxies.AreValid(gateway));
    }

    private static string? ClientSeen(GatewayOptions gateway, string from, string forwardedFor)
    {
        var options = new ForwardedHeadersOptions();
        TrustedProxies.Configure(options, gateway);
        var middleware = new ForwardedHeadersMiddleware(_ => Task.CompletedTask, NullLoggerFactory.Instance, Options.Create(options));
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(from);
        context.Request.Headers["X-Forwarded-For"] = forwardedFor;

        middleware.ApplyForwarders(context);

        return context.Connection.RemoteIpAddress?.ToString();
    }
}
