using Google.Protobuf.WellKnownTypes;
using Keys.ApiKeys;
using Keys.KeyAdmin.Access;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

public sealed class RequestRulesTests
{
    private static readonly DateTimeOffset Now = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);

    // Keyed by the reason each rule refuses with, so that one table row names both the rule and its answer.
    private static readonly Dictionary<string, Func<string, string>> NameRules = new()
    {
        ["INVALID_PROJECT_NAME"] = RequestRules.ProjectName,
        ["INVALID_ENVIRONMENT_NAME"] = RequestRules.EnvironmentName,
        ["INVALID_KEY_NAME"] = RequestRules.KeyName,
        ["INVALID_OPERATOR_NAME"] = RequestRules.OperatorName,
    };

    [Theory]
    [InlineData("  Acme Corp\t", "Acme Corp")]
    [InlineData("\nAcme", "Acme")]
    public void AProjectNameIsKeptWithoutSurroundingWhitespace(string name, string kept) =>
        Assert.Equal(kept, RequestRules.ProjectName(name));

    public static TheoryData<string, string> WellFormedNames => Names(
        ("INVALID_PROJECT_NAME", ["Acme", "Café 東京", new string('p', 64)]),
        ("INVALID_ENVIRONMENT_NAME", ["qa", "a", "9", "prod-eu-2", new string('e', 32)]),
        ("INVALID_KEY_NAME", ["my-app-key", "a", "A.b_c-1", "backend worker 2", new string('k', 64)]),
        ("INVALID_OPERATOR_NAME", ["ana", "ci-deploy", "Ana Lima", new string('o', 64)]));

    public static TheoryData<string, string> MalformedNames => Names(
        ("INVALID_PROJECT_NAME", ["", "   ", "Acme\u0000Corp", "Acme\u001bCorp", new string('p', 65)]),
        ("INVALID_ENVIRONMENT_NAME", ["", "QA", "-qa", "q a", "q_a", "qa\n", new string('e', 33)]),
        ("INVALID_KEY_NAME", ["", " leading", "trailing ", "a/b", "tab\there", "line\n", "café", new string('k', 65)]),
        ("INVALID_OPERATOR_NAME", ["", " ana", "a/b", new string('o', 65), "admin-token", "Dashboard", OperatorToken.Generate()]));

    [Theory]
    [MemberData(nameof(WellFormedNames))]
    public void AWellFormedNameIsKeptAsGiven(string rule, string name) => Assert.Equal(name, NameRules[rule](name));

    [Theory]
    [MemberData(nameof(MalformedNames))]
    public void AMalformedNameIsRefusedWithItsRulesReason(string rule, string name) =>
        ApiErrorAssert.InvalidArgument(rule, () => NameRules[rule](name));

    [Theory]
    [InlineData(ApiKeyType.Secret)]
    [InlineData(ApiKeyType.Publishable)]
    public void AnApiKeyPastedAsAKeyNameIsRefusedWithoutBeingEchoed(ApiKeyType type)
    {
        var key = KeyString.Generate(type);

        var error = ApiErrorAssert.InvalidArgument("INVALID_KEY_NAME", () => RequestRules.KeyName(key));

        Assert.Equal("A key name must not hold an API key or token. Name it after what uses it, such as my-app-key.", error.Status.Detail);
    }

    // Names are listed, audited (before and after) and echoed in errors: a key beside a label leaks as much as a key alone.
    public static TheoryData<string, string> NamesHoldingASecret()
    {
        var data = new TheoryData<string, string>();
        foreach (var rule in new[] { "INVALID_PROJECT_NAME", "INVALID_KEY_NAME", "INVALID_OPERATOR_NAME" })
        {
            foreach (var secret in new[] { KeyString.Generate(ApiKeyType.Secret), KeyString.Generate(ApiKeyType.Publishable), OperatorToken.Generate() })
            {
                data.Add(rule, $"ci {secret}");
                data.Add(rule, $"{secret}-old");
                data.Add(rule, $"a.{secret}.b");
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NamesHoldingASecret))]
    public void ANameHoldingAKeyOrTokenAnywhereIsRefusedWithItsRulesReasonWithoutEchoingIt(string rule, string name)
    {
        var error = ApiErrorAssert.InvalidArgument(rule, () => NameRules[rule](name));

        Assert.DoesNotContain(name.Split(' ', '.', '-').Single(part => part.Length == KeyString.Length)[3..], error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ANameThatLooksLikeAKeyButFailsItsChecksumIsKept()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        var almost = "ci " + key[..^1] + (key[^1] == '0' ? '1' : '0');

        Assert.Equal(almost, RequestRules.KeyName(almost));
        Assert.Equal(almost, RequestRules.ProjectName(almost));
    }

    [Theory]
    [InlineData("INVALID_PROJECT_NAME")]
    [InlineData("INVALID_ENVIRONMENT_NAME")]
    [InlineData("INVALID_KEY_NAME")]
    [InlineData("INVALID_OPERATOR_NAME")]
    public void NoNameMayHoldANulCharacterWhichPostgresCannotStore(string rule) =>
        ApiErrorAssert.InvalidArgument(rule, () => NameRules[rule]("ab\0cd"));

    [Fact]
    public void AnOperatorTokenPastedAsAKeyNameIsRefusedWithoutBeingEchoed()
    {
        var token = OperatorToken.Generate();
        var error = ApiErrorAssert.InvalidArgument("INVALID_KEY_NAME", () => RequestRules.KeyName(token));
        Assert.DoesNotContain(token, error.Status.Detail);
    }

    [Theory]
    [InlineData("owner", OperatorRole.Owner)]
    [InlineData("editor", OperatorRole.Editor)]
    [InlineData("viewer", OperatorRole.Viewer)]
    public void ARoleIsNamedInLowercase(string name, OperatorRole role) => Assert.Equal(role, RequestRules.OperatorRole(name));

    [Theory]
    [InlineData("")]
    [InlineData("Owner")]
    [InlineData("admin")]
    public void AnyOtherRoleIsRefused(string name) =>
        ApiErrorAssert.InvalidArgument("INVALID_ROLE", () => RequestRules.OperatorRole(name));

    [Fact]
    public void AnOwnersTokenCannotBeLimitedToProjects() =>
        ApiErrorAssert.InvalidArgument("INVALID_PROJECT_LIMIT", () => RequestRules.OperatorProjects(OperatorRole.Owner, [ResourceId.NewProjectId()]));

    [Fact]
    public void AnEditorsProjectsAreKeptWithoutRepeatsAndMustBeProjectIds()
    {
        var project = ResourceId.NewProjectId();
        Assert.Equal([project], RequestRules.OperatorProjects(OperatorRole.Editor, [project, project]));
        Assert.Empty(RequestRules.OperatorProjects(OperatorRole.Owner, []));

        var pasted = KeyString.Generate(ApiKeyType.Secret);
        var error = ApiErrorAssert.InvalidArgument("INVALID_PROJECT_LIMIT", () => RequestRules.OperatorProjects(OperatorRole.Viewer, [project, pasted]));
        Assert.DoesNotContain(pasted, error.Status.Detail);
        Assert.Contains("Project 2 of 2", error.Status.Detail);
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

    private static TheoryData<string, string> Names(params (string Rule, string[] Names)[] table)
    {
        var data = new TheoryData<string, string>();
        foreach (var (rule, names) in table)
        {
            foreach (var name in names)
            {
                data.Add(rule, name);
            }
        }

        return data;
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
