using Keys.AspNetCore.Authorization;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// What an endpoint may require: exactly one resource and one operation. Wildcards belong to keys; an endpoint that
/// required one would let in any key holding a matching wildcard.
/// </summary>
public sealed class ScopeRequirementTests
{
    [Theory]
    [InlineData("orders:read", "orders", "read")]
    [InlineData("orders:create", "orders", "create")]
    [InlineData("orders:update", "orders", "update")]
    [InlineData("order_items.v2-beta:delete", "order_items.v2-beta", "delete")]
    public void ResourceAndOperationAreAScopeAnEndpointCanRequire(string scope, string resource, string operation)
    {
        Assert.True(ScopeRequirement.TryParse(scope, out var requirement));

        Assert.Equal((resource, operation, scope), (requirement.Resource, requirement.Operation, requirement.Scope));
        Assert.Equal(scope, ScopeRequirement.Parse(scope).ToString());
    }

    [Theory]
    [InlineData("orders")]
    [InlineData("orders:*")]
    [InlineData("*:read")]
    [InlineData("*:*")]
    [InlineData(":read")]
    [InlineData("orders:")]
    [InlineData("orders:write")]
    [InlineData("orders:READ")]
    [InlineData("orders:read:all")]
    [InlineData("orders/1:read")]
    [InlineData("")]
    [InlineData(null)]
    public void AnythingElseIsRefused(string? scope)
    {
        Assert.False(ScopeRequirement.TryParse(scope, out var requirement));
        Assert.Null(requirement);
    }

    [Fact]
    public void ResourceLongerThanAScopeAllowsIsRefused() =>
        Assert.False(ScopeRequirement.TryParse(new string('a', Keys.ApiKeys.Scopes.MaxResourceLength + 1) + ":read", out _));

    [Theory]
    [InlineData("orders:*")]
    [InlineData("*:read")]
    [InlineData("orders")]
    public void ParsingARefusedScopeThrowsNamingTheFormExpected(string scope)
    {
        var error = Assert.Throws<ArgumentException>(() => ScopeRequirement.Parse(scope));

        Assert.Equal("scope", error.ParamName);
        Assert.Contains($"'{scope}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("resource:operation", error.Message, StringComparison.Ordinal);
        Assert.Contains("read, create, update, delete", error.Message, StringComparison.Ordinal);
    }
}
