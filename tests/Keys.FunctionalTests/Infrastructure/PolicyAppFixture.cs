using Xunit.Abstractions;

namespace Keys.FunctionalTests.Infrastructure;

/// <summary>
/// The system of <see cref="KeysAppFixture"/> (two gateways, two KeyValidation replicas), with the gateways trusting
/// loopback as their proxy: a test's <c>X-Forwarded-For</c> names the client address that keys' allowed networks are
/// checked against, as a load balancer's would. The other collections' gateways trust no proxy, and a test there checks
/// that the header is ignored.
/// </summary>
public sealed class PolicyAppFixture(IMessageSink diagnostics) : KeysAppFixture(diagnostics)
{
    protected override string Name => "policy";

    protected override bool RequestLogs => false;

    protected override KeysHostOptions Configure(KeysHostOptions options) => options with
    {
        Environment =
        [
            .. options.Environment,
            ("gateway", "Gateway__TrustedProxies__0", "127.0.0.1"),
            ("gateway", "Gateway__TrustedProxies__1", "::1"),
        ],
    };
}

[CollectionDefinition(Name)]
public sealed class PolicyCollection : ICollectionFixture<PolicyAppFixture>
{
    public const string Name = "Keys system, behind a trusted proxy";
}
