using System.Buffers.Text;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

public sealed class PageTokensTests
{
    private const string Project = "prj_0123456789abcdefABCDEF";
    private static readonly PageTokens Tokens = new(PageTokens.KeyFrom("an-admin-token-of-at-least-32-characters"));
    private static readonly PageCursor Cursor = new(new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1230), "key_0123456789abcdefABCDEF");
    private static readonly string Scope = PageTokens.KeysScope(Project, "dev", new KeyListFilter(ApiKeyType.Secret, "active", "billing"));

    [Fact]
    public void ATokenGivesBackTheCursorItWasWrittenFor()
    {
        var token = Tokens.Write(Scope, Cursor);

        Assert.Equal(Cursor, Tokens.ReadCursor(token, Scope));
        Assert.Equal(42, Tokens.ReadId(Tokens.Write(PageTokens.AuditScope(Project), 42), PageTokens.AuditScope(Project)));
    }

    [Fact]
    public void ATokenIsUrlSafeAndNoEmptyTokenMeansTheFirstPage()
    {
        var token = Tokens.Write(Scope, Cursor);

        Assert.Equal(Uri.EscapeDataString(token), token);
        Assert.Null(Tokens.ReadCursor("", Scope));
        Assert.Null(Tokens.ReadId("", PageTokens.AuditScope(null)));
    }

    public static TheoryData<string> OtherListings() => new()
    {
        PageTokens.KeysScope(Project, "prod", new KeyListFilter(ApiKeyType.Secret, "active", "billing")),
        PageTokens.KeysScope("prj_0123456789abcdefABCDEX", "dev", new KeyListFilter(ApiKeyType.Secret, "active", "billing")),
        PageTokens.KeysScope(Project, "dev", new KeyListFilter(ApiKeyType.Publishable, "active", "billing")),
        PageTokens.KeysScope(Project, "dev", new KeyListFilter(ApiKeyType.Secret, null, "billing")),
        PageTokens.KeysScope(Project, "dev", new KeyListFilter(ApiKeyType.Secret, "active", "Billing")),
        PageTokens.KeysScope(Project, "dev", new KeyListFilter(ApiKeyType.Secret, "active")),
        PageTokens.ProjectsScope,
    };

    [Theory]
    [MemberData(nameof(OtherListings))]
    public void ATokenSentWithAnotherProjectEnvironmentOrFilterIsRefused(string otherScope)
    {
        var token = Tokens.Write(Scope, Cursor);

        var error = ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadCursor(token, otherScope));

        Assert.Contains("belongs to another listing", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryChangedByteOfATokenIsRefused()
    {
        var bytes = Base64Url.DecodeFromChars(Tokens.Write(Scope, Cursor));
        for (var i = 0; i < bytes.Length; i++)
        {
            var tampered = (byte[])bytes.Clone();
            tampered[i] ^= 0x01;
            ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadCursor(Base64Url.EncodeToString(tampered), Scope));
        }
    }

    public static TheoryData<string> Malformed() => new()
    {
        "Zq",
        "not base64url!",
        "AAAA",
        Tokens.Write(Scope, Cursor)[..^2],
        Tokens.Write(Scope, Cursor) + "A",
        new string('A', 600),
        KeyString.Generate(ApiKeyType.Secret),
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void AMalformedTokenIsRefusedWithoutBeingEchoed(string token)
    {
        var error = ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadCursor(token, Scope));

        Assert.DoesNotContain(token, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ATokenFromAnotherDeploymentIsRefused()
    {
        var other = new PageTokens(PageTokens.KeyFrom("another-admin-token-of-32-characters-or-more"));

        ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadCursor(other.Write(Scope, Cursor), Scope));
    }

    [Fact]
    public void AnAuditTokenIsNotAKeysTokenNorTheOtherWayRound()
    {
        ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadCursor(Tokens.Write(Scope, 7), Scope));
        ApiErrorAssert.InvalidArgument(PageTokens.InvalidReason, () => Tokens.ReadId(Tokens.Write(Scope, Cursor), Scope));
    }
}
