using Keys.Gateway.Authentication;
using Yarp.ReverseProxy.Configuration;

namespace Keys.Gateway.UnitTests;

public sealed class RoutePolicyTests
{
    [Fact]
    public void FixedScopeNamingAResourceTakesTheOperationFromTheMethod()
    {
        var policy = RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "secret", ["Scope"] = "orders" });

        Assert.True(policy.NamesScope);
        Assert.Equal("orders", policy.ScopeResource);
        Assert.Null(policy.ScopeOperation);
        Assert.Null(policy.ScopeResourceFrom);
    }

    [Fact]
    public void FixedScopeMayNameTheOperationToo()
    {
        var policy = RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "publishable,secret", ["Scope"] = "reports:read" });

        Assert.Equal(("reports", "read"), (policy.ScopeResource, policy.ScopeOperation));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("*:read")]
    [InlineData("orders:*")]
    [InlineData("orders:write")]
    [InlineData("or ders")]
    [InlineData(":read")]
    [InlineData("orders:read:extra")]
    public void MalformedOrWildcardScopeIsAConfigurationError(string scope) =>
        Assert.Throws<InvalidOperationException>(() => RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "secret", ["Scope"] = scope }));

    [Fact]
    public void ScopeAndScopeResourceFromTogetherAreAConfigurationError() =>
        Assert.Throws<InvalidOperationException>(() => RoutePolicy.Parse(
            new Dictionary<string, string> { ["KeyTypes"] = "secret", ["Scope"] = "orders", ["ScopeResourceFrom"] = "table" }));

    [Fact]
    public void RouteWithoutScopeMetadataNamesNoScope()
    {
        var policy = RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "secret" });

        Assert.False(policy.NamesScope);
        Assert.True(policy.RequiresKey);
    }

    [Fact]
    public void ScopeMetadataCountsOnARouteThatNamesNoKeyTypes()
    {
        var policy = RoutePolicy.Parse(new Dictionary<string, string> { ["ScopeResourceFrom"] = "table" });

        Assert.Equal("table", policy.ScopeResourceFrom);
        Assert.True(policy.AcceptsPublishable && policy.AcceptsSecret);
    }

    [Fact]
    public void OpenRouteNeedsNoKey() =>
        Assert.False(RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "none", ["Scope"] = "orders" }).RequiresKey);

    [Fact]
    public void RouteWithoutMetadataNeedsAKeyOfEitherType() =>
        Assert.Same(RoutePolicy.AnyKey, RoutePolicy.Parse(null));

    [Fact]
    public void UnknownKeyTypeIsAConfigurationError() =>
        Assert.Throws<InvalidOperationException>(() => RoutePolicy.Parse(new Dictionary<string, string> { ["KeyTypes"] = "secret,admin" }));

    [Fact]
    public void PolicyIsParsedOncePerRouteConfiguration()
    {
        var route = new RouteConfig { RouteId = "orders", Metadata = new Dictionary<string, string> { ["KeyTypes"] = "secret" } };

        Assert.Same(RoutePolicy.For(route), RoutePolicy.For(route));
        Assert.NotSame(RoutePolicy.For(route), RoutePolicy.For(route with { }));
    }
}
