using Keys.ApiKeys;

namespace Keys.UnitTests;

public sealed class ScopesTests
{
    [Theory]
    [InlineData("posts:read")]
    [InlineData("posts:*")]
    [InlineData("*:delete")]
    [InlineData("*:*")]
    [InlineData("user_profiles:update")]
    public void WellFormedScopesAreAccepted(string scope) => Assert.True(Scopes.IsValid(scope));

    [Theory]
    [InlineData("")]
    [InlineData("posts")]
    [InlineData(":read")]
    [InlineData("posts:")]
    [InlineData("posts:write")]
    [InlineData("posts:read:extra")]
    [InlineData("po sts:read")]
    [InlineData("posts:READ")]
    public void MalformedScopesAreRejected(string scope) => Assert.False(Scopes.IsValid(scope));

    [Fact]
    public void OverlongResourceIsRejected() => Assert.False(Scopes.IsValid(new string('a', 65) + ":read"));
}

public sealed class ScopeCoverageTests
{
    [Theory]
    [InlineData("GET", "read")]
    [InlineData("HEAD", "read")]
    [InlineData("POST", "create")]
    [InlineData("PUT", "update")]
    [InlineData("PATCH", "update")]
    [InlineData("DELETE", "delete")]
    [InlineData("OPTIONS", null)]
    public void HttpMethodsMapToOperations(string method, string? operation) => Assert.Equal(operation, Scopes.OperationOf(method));

    [Theory]
    [InlineData("posts:read", "posts", "read", true)]
    [InlineData("posts:read", "posts", "create", false)]
    [InlineData("posts:read", "comments", "read", false)]
    [InlineData("posts:*", "posts", "delete", true)]
    [InlineData("*:read", "comments", "read", true)]
    [InlineData("*:read", "comments", "update", false)]
    [InlineData("*:*", "anything", "delete", true)]
    public void OneScopeCoversWhatItNames(string scope, string resource, string operation, bool allowed)
    {
        Assert.Equal(allowed, Scopes.Allow(ApiKeyType.Secret, [scope], resource, operation));
        Assert.Equal(allowed, Scopes.Allow(ApiKeyType.Publishable, [scope], resource, operation));
    }

    [Fact]
    public void AnyOfSeveralScopesIsEnough() => Assert.True(Scopes.Allow(ApiKeyType.Secret, ["posts:read", "comments:create"], "comments", "create"));

    [Theory]
    [InlineData("read", true)]
    [InlineData("create", true)]
    [InlineData("update", true)]
    [InlineData("delete", true)]
    [InlineData(null, true)]
    public void SecretKeyWithoutScopesIsLimitedOnlyByItsType(string? operation, bool allowed) =>
        Assert.Equal(allowed, Scopes.Allow(ApiKeyType.Secret, [], "posts", operation));

    [Theory]
    [InlineData("read", true)]
    [InlineData("create", false)]
    [InlineData("update", false)]
    [InlineData("delete", false)]
    [InlineData(null, false)]
    public void PublishableKeyWithoutScopesMayOnlyRead(string? operation, bool allowed) =>
        Assert.Equal(allowed, Scopes.Allow(ApiKeyType.Publishable, [], "posts", operation));

    [Fact]
    public void PublishableKeyWithAWriteScopeMayWriteWhatItNames()
    {
        Assert.True(Scopes.Allow(ApiKeyType.Publishable, ["posts:create"], "posts", "create"));
        Assert.False(Scopes.Allow(ApiKeyType.Publishable, ["posts:create"], "posts", "read"));
    }

    [Theory]
    [InlineData(ApiKeyType.Secret)]
    [InlineData(ApiKeyType.Publishable)]
    public void KeyWithScopesIsRefusedWhereTheRouteNamesNoScope(ApiKeyType type)
    {
        Assert.False(Scopes.Allow(type, ["posts:read"], resource: null, "read"));
        Assert.False(Scopes.Allow(type, ["*:*"], resource: null, "read"));
    }

    [Theory]
    [InlineData(ApiKeyType.Secret)]
    [InlineData(ApiKeyType.Publishable)]
    public void KeyWithoutScopesPassesWhereTheRouteNamesNoScope(ApiKeyType type) =>
        Assert.True(Scopes.Allow(type, [], resource: null, "create"));

    [Fact]
    public void UnknownMethodIsNotCoveredByScopes() => Assert.False(Scopes.Allow(ApiKeyType.Secret, ["*:*"], "posts", null));
}
