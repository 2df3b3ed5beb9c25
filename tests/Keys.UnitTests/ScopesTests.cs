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
