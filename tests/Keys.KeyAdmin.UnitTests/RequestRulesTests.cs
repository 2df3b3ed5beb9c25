using Google.Protobuf.WellKnownTypes;
using Keys.ApiKeys;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

public sealed class RequestRulesTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Theory]
    [InlineData("Acme", "Acme")]
    [InlineData("  Acme Corp\t", "Acme Corp")]
    [InlineData("Café 東京", "Café 東京")]
    public void AProjectNameIsKeptWithoutSurroundingWhitespace(string name, string kept) =>
        Assert.Equal(kept, RequestRules.ProjectName(name));

    [Theory]
    [InlineData(1, true)]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void AProjectNameIsOneTo64Characters(int length, bool accepted) =>
        AssertRule(accepted, "INVALID_PROJECT_NAME", () => RequestRules.ProjectName(new string('p', length)));

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Acme\u0000Corp")]
    [InlineData("Acme\u001bCorp")]
    public void AProjectNameThatIsBlankOrHoldsControlCharactersIsRefused(string name) =>
        ApiErrorAssert.InvalidArgument("INVALID_PROJECT_NAME", () => RequestRules.ProjectName(name));

    [Theory]
    [InlineData("qa", true)]
    [InlineData("a", true)]
    [InlineData("9", true)]
    [InlineData("prod-eu-2", true)]
    [InlineData("abcdefghijklmnopqrstuvwxyz012345", true)]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456", false)]
    [InlineData("", false)]
    [InlineData("QA", false)]
    [InlineData("-qa", false)]
    [InlineData("q a", false)]
    [InlineData("q_a", false)]
    [InlineData("qa\n", false)]
    public void AnEnvironmentNameIsUpTo32LowercaseLettersDigitsAndDashesNotStartingWithADash(string name, bool accepted) =>
        AssertRule(accepted, "INVALID_ENVIRONMENT_NAME", () => Assert.Equal(name, RequestRules.EnvironmentName(name)));

    [Theory]
    [InlineData("my-app-key", true)]
    [InlineData("a", true)]
    [InlineData("A.b_c-1", true)]
    [InlineData("backend worker 2", true)]
    [InlineData("", false)]
    [InlineData(" leading", false)]
    [InlineData("trailing ", false)]
    [InlineData("a/b", false)]
    [InlineData("tab\there", false)]
    [InlineData("line\n", false)]
    [InlineData("café", false)]
    public void AKeyNameIsLettersDigitsDashesUnderscoresDotsAndInnerSpaces(string name, bool accepted) =>
        AssertRule(accepted, "INVALID_KEY_NAME", () => Assert.Equal(name, RequestRules.KeyName(name)));

    [Theory]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void AKeyNameIsAtMost64Characters(int length, bool accepted) =>
        AssertRule(accepted, "INVALID_KEY_NAME", () => RequestRules.KeyName(new string('k', length)));

    [Theory]
    [InlineData(ApiKeyType.Secret)]
    [InlineData(ApiKeyType.Publishable)]
    public void AnApiKeyPastedAsAKeyNameIsRefusedWithoutBeingEchoed(ApiKeyType type)
    {
        var key = KeyString.Generate(type);

        var error = ApiErrorAssert.InvalidArgument("INVALID_KEY_NAME", () => RequestRules.KeyName(key));

        Assert.Equal("A key name must not be an API key. Name it after what uses it, such as my-app-key.", error.Status.Detail);
    }

    [Theory]
    [InlineData("secret", ApiKeyType.Secret)]
    [InlineData("publishable", ApiKeyType.Publishable)]
    public void AKeyTypeIsNamedInLowercase(string name, ApiKeyType type) => Assert.Equal(type, RequestRules.KeyType(name));

    [Theory]
    [InlineData("")]
    [InlineData("Secret")]
    [InlineData("restricted")]
    [InlineData("sk")]
    public void AnyOtherKeyTypeIsRefused(string name) =>
        ApiErrorAssert.InvalidArgument("INVALID_KEY_TYPE", () => RequestRules.KeyType(name));

    [Theory]
    [InlineData(new string[0], new string[0])]
    [InlineData(new[] { "posts:read" }, new[] { "posts:read" })]
    [InlineData(new[] { "posts:read", "*:delete", "posts:read" }, new[] { "posts:read", "*:delete" })]
    public void ScopesAreKeptInOrderWithoutRepeats(string[] scopes, string[] kept) =>
        Assert.Equal(kept, RequestRules.KeyScopes(scopes));

    [Theory]
    [InlineData(RequestRules.MaxScopes, true)]
    [InlineData(RequestRules.MaxScopes + 1, false)]
    public void AKeyHasAtMost50Scopes(int count, bool accepted) =>
        AssertRule(accepted, "INVALID_SCOPE", () => RequestRules.KeyScopes([.. Enumerable.Range(0, count).Select(i => $"r{i}:read")]));

    [Fact]
    public void AMalformedScopeIsNamedByItsPositionNeverByItsValue()
    {
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        var error = ApiErrorAssert.InvalidArgument("INVALID_SCOPE", () => RequestRules.KeyScopes(["posts:read", pasted, "comments:read"]));

        Assert.StartsWith("Scope 2 of 3 is not of the form '{resource}:{operation}'", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(pasted, error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(3600, true)]
    [InlineData(RequestRules.MaxGracePeriodSeconds, true)]
    [InlineData(RequestRules.MaxGracePeriodSeconds + 1, false)]
    [InlineData(-1, false)]
    [InlineData(int.MinValue, false)]
    public void AGracePeriodIsFromNoneTo30Days(int seconds, bool accepted) =>
        AssertRule(accepted, "INVALID_GRACE_PERIOD", () => Assert.Equal(TimeSpan.FromSeconds(seconds), RequestRules.GracePeriod(seconds)));

    [Theory]
    [InlineData(0, RequestRules.DefaultAuditLimit)]
    [InlineData(1, 1)]
    [InlineData(RequestRules.MaxAuditLimit, RequestRules.MaxAuditLimit)]
    public void AnAuditLimitOfZeroMeansTheDefault(int limit, int applied) => Assert.Equal(applied, RequestRules.AuditLimit(limit));

    [Theory]
    [InlineData(-1)]
    [InlineData(RequestRules.MaxAuditLimit + 1)]
    public void AnAuditLimitOutsideOneTo1000IsRefused(int limit) =>
        ApiErrorAssert.InvalidArgument("INVALID_LIMIT", () => RequestRules.AuditLimit(limit));

    [Theory]
    [InlineData("my-app-key")]
    [InlineData(" ")]
    public void AConfirmNameIsTakenAsTyped(string confirmName) => Assert.Equal(confirmName, RequestRules.ConfirmName(confirmName));

    [Fact]
    public void AMissingConfirmNameIsRefused() =>
        ApiErrorAssert.InvalidArgument("CONFIRM_NAME_REQUIRED", () => RequestRules.ConfirmName(""));

    [Fact]
    public void NoExpiryMeansTheKeyNeverExpires() => Assert.Null(RequestRules.ExpiresAt(null, Now));

    [Theory]
    [InlineData(1, true)]
    [InlineData(365 * 24 * 3600, true)]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    public void AnExpiryMustBeInTheFuture(int secondsFromNow, bool accepted)
    {
        var expiresAt = Now.AddSeconds(secondsFromNow);

        AssertRule(accepted, "INVALID_EXPIRY", () => Assert.Equal(expiresAt.UtcDateTime, RequestRules.ExpiresAt(Timestamp.FromDateTimeOffset(expiresAt), Now)));
    }

    private static void AssertRule(bool accepted, string reason, Action rule)
    {
        if (accepted)
        {
            rule();
        }
        else
        {
            ApiErrorAssert.InvalidArgument(reason, rule);
        }
    }
}
