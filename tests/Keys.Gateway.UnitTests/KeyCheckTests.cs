using Google.Protobuf.WellKnownTypes;
using Keys.ApiKeys;
using Keys.AspNetCore;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Validation;
using Keys.Gateway.Authentication;
using Keys.V1;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace Keys.Gateway.UnitTests;

/// <summary>
/// Every branch of the gateway's key decision, with the status and code each refusal puts on the wire. The clock is
/// fake, so that instants (expiry, a roll's end) are hit exactly.
/// </summary>
public sealed class KeyCheckTests
{
    private static readonly RoutePolicy SecretOnly = Policy(("KeyTypes", "secret"));
    private static readonly RoutePolicy PublishableOnly = Policy(("KeyTypes", "publishable"));
    private static readonly RoutePolicy Orders = Policy(("KeyTypes", "publishable,secret"), ("Scope", "orders"));
    private static readonly RoutePolicy DataTable = Policy(("KeyTypes", "publishable,secret"), ("ScopeResourceFrom", "table"));
    private static readonly RoutePolicy ReportsRead = Policy(("Scope", "reports:read"));
    private static readonly RouteValueDictionary NoRouteValues = new();

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly string _secret = KeyString.Generate(ApiKeyType.Secret);
    private readonly string _publishable = KeyString.Generate(ApiKeyType.Publishable);

    // --- What the request alone decides ---

    [Fact]
    public void RequestWithoutAKeyIsRefusedAsUnauthorizedWithoutSpendingAPermit()
    {
        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(StringValues.Empty));

        AssertRefusal(ApiKeyRefusal.MissingKey, 401, "UNAUTHORIZED", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void EmptyOrBlankKeyCountsAsNoKey(string presented) =>
        AssertRefusal(ApiKeyRefusal.MissingKey, 401, "UNAUTHORIZED", CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(presented)));

    [Theory]
    [InlineData("not-a-key")]
    [InlineData("Bearer sk_live")]
    public void MalformedKeyIsInvalidAndSpendsAPermit(string presented)
    {
        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(presented));

        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", refusal);
        Assert.True(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void KeyOfTheRightLengthWithAnUnknownPrefixIsInvalid() =>
        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", CheckRequest(RoutePolicy.AnyKey, new PresentedRequest("xk_" + _secret[3..])));

    [Fact]
    public void KeyWithOneCharacterChangedFailsItsChecksum()
    {
        // A body character, so that length, prefix and alphabet still pass and only the checksum can tell.
        var typo = _secret[..10] + (_secret[10] == 'a' ? 'b' : 'a') + _secret[11..];

        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(typo));

        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", refusal);
        Assert.True(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void TwoKeysJoinedByACommaAreAmbiguousAndSpendAPermit()
    {
        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest($"{_secret},{_publishable}"));

        AssertRefusal(ApiKeyRefusal.AmbiguousKey, 401, "INVALID_TOKEN", refusal);
        Assert.True(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void TwoXApiKeyHeadersAreAmbiguousEvenWhenBothHoldTheSameKey() =>
        AssertRefusal(
            ApiKeyRefusal.AmbiguousKey, 401, "INVALID_TOKEN", CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(new StringValues([_secret, _secret]))));

    [Fact]
    public void PublishableKeyOnASecretOnlyRouteIsRefusedForItsType()
    {
        var refusal = CheckRequest(SecretOnly, new PresentedRequest(_publishable));

        AssertRefusal(GatewayRefusals.SecretKeyRequired, 403, "PERMISSION_DENIED", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void SecretKeyOnAPublishableOnlyRouteIsRefusedForItsType() =>
        AssertRefusal(GatewayRefusals.PublishableKeyRequired, 403, "PERMISSION_DENIED", CheckRequest(PublishableOnly, new PresentedRequest(_secret)));

    [Fact]
    public void SecretKeySentWithOriginIsRefusedAsBrowserUse()
    {
        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(_secret, SentOrigin: true));

        AssertRefusal(ApiKeyRefusal.SecretKeyInBrowser, 403, "SECRET_KEY_IN_BROWSER", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void SecretKeySentWithSecFetchHeadersIsRefusedAsBrowserUse() =>
        AssertRefusal(
            ApiKeyRefusal.SecretKeyInBrowser, 403, "SECRET_KEY_IN_BROWSER", CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(_secret, SentSecFetch: true)));

    [Fact]
    public void BrowserUseOfASecretKeyIsNamedBeforeTheRouteRefusesItsType() =>
        AssertRefusal(
            ApiKeyRefusal.SecretKeyInBrowser, 403, "SECRET_KEY_IN_BROWSER", CheckRequest(PublishableOnly, new PresentedRequest(_secret, SentOrigin: true)));

    [Fact]
    public void PublishableKeyFromABrowserPasses() =>
        Assert.Null(CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(_publishable, SentOrigin: true, SentSecFetch: true)));

    [Theory]
    [InlineData("/demo/public/..%2Fprivate")]
    [InlineData("/demo/public/..%2fprivate")]
    [InlineData("/demo/public/..%5Cprivate")]
    [InlineData("/demo/public/..%5cprivate")]
    [InlineData("/demo/public/..\\private")]
    public void EncodedOrRawSeparatorInThePathIsRefusedBeforeTheKeyIsLookedAt(string rawTarget)
    {
        // No key at all: the path decides first.
        var refusal = CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(StringValues.Empty, rawTarget));

        AssertRefusal(GatewayRefusals.InvalidPath, 400, "INVALID_PATH", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Theory]
    [InlineData("/demo/public/a?next=%2Fprivate")]
    [InlineData("/demo/public/100%25")]
    [InlineData("/demo/public/a%2")]
    [InlineData(null)]
    public void EncodedSeparatorOnlyInTheQueryOrAnIncompleteEscapeIsNoPathConfusion(string? rawTarget) =>
        Assert.Null(CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(_secret, rawTarget)));

    [Theory]
    [InlineData(ApiKeyType.Publishable)]
    [InlineData(ApiKeyType.Secret)]
    public void WellFormedKeyOfAnAcceptedTypePassesWithItsTypeAndNoLookupYet(ApiKeyType type)
    {
        var key = type == ApiKeyType.Secret ? _secret : _publishable;

        var refusal = KeyCheck.CheckRequest(RoutePolicy.AnyKey, new PresentedRequest(key, "/demo/public/a"), out var checkedKey, out var checkedType);

        Assert.Null(refusal);
        Assert.Equal(key, checkedKey);
        Assert.Equal(type, checkedType);
    }

    // --- A key found valid, on this route ---

    [Fact]
    public void ValidKeyPassesAndTheUpstreamGetsExactlyTheIdentityItProves()
    {
        var known = Known(ApiKeyType.Publishable, Valid(["orders:read", "reports:*"]));
        var headers = new HeaderDictionary();

        Assert.Null(CheckRoute(Orders, known, "GET"));
        KeyCheck.SetIdentityHeaders(headers, known);

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["X-Key-Id"] = "key_0123456789abcdefghij",
                ["X-Key-Type"] = "publishable",
                ["X-Project-Id"] = "prj_0123456789abcdefghij",
                ["X-Environment"] = "production",
                ["X-Key-Scopes"] = "orders:read,reports:*",
            },
            headers.ToDictionary(h => h.Key, h => h.Value.ToString()));
    }

    [Fact]
    public void IdentityHeadersReplaceWhateverTheRequestHeldUnderThoseNames()
    {
        var headers = new HeaderDictionary { ["X-Key-Id"] = "key_forged", ["X-Key-Scopes"] = "*:*" };

        KeyCheck.SetIdentityHeaders(headers, Known(ApiKeyType.Secret, Valid()));

        Assert.Equal("key_0123456789abcdefghij", headers["X-Key-Id"]);
        Assert.Equal("secret", headers["X-Key-Type"]);
        Assert.Equal("", headers["X-Key-Scopes"]);
    }

    [Theory]
    [InlineData(ApiKeyType.Publishable, "POST")]
    [InlineData(ApiKeyType.Secret, "DELETE")]
    public void KeyWithoutScopesOnARouteNamingNoScopeIsLimitedOnlyByItsType(ApiKeyType type, string method) =>
        Assert.Null(CheckRoute(RoutePolicy.AnyKey, Known(type, Valid()), method));

    [Fact]
    public void ScopedKeyOnARouteNamingNoScopeIsRefused() =>
        AssertRefusal(
            GatewayRefusals.RouteNamesNoScope, 403, "SCOPE_INSUFFICIENT", CheckRoute(RoutePolicy.AnyKey, Known(ApiKeyType.Secret, Valid(["*:*"])), "GET"));

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public void PublishableKeyWithoutScopesReadsAsIfItHadStarRead(string method) =>
        Assert.Null(CheckRoute(Orders, Known(ApiKeyType.Publishable, Valid()), method));

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public void PublishableKeyWithoutScopesMayNotWrite(string method) =>
        AssertRefusal(ApiKeyRefusal.PublishableKeyReadOnly, 403, "SCOPE_INSUFFICIENT", CheckRoute(Orders, Known(ApiKeyType.Publishable, Valid()), method));

    [Theory]
    [InlineData("POST")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public void SecretKeyWithoutScopesMayDoAnythingOnAScopedRoute(string method) =>
        Assert.Null(CheckRoute(Orders, Known(ApiKeyType.Secret, Valid()), method));

    [Theory]
    [InlineData("orders:create", "POST")]
    [InlineData("orders:*", "DELETE")]
    [InlineData("*:update", "PATCH")]
    [InlineData("*:*", "PUT")]
    public void ScopedKeyPassesWhereAScopeCoversTheResourceAndOperation(string scope, string method) =>
        Assert.Null(CheckRoute(Orders, Known(ApiKeyType.Publishable, Valid(["reports:read", scope])), method));

    [Theory]
    [InlineData("orders:read", "POST")]
    [InlineData("users:*", "GET")]
    [InlineData("orders:*", "OPTIONS")]
    public void ScopedKeyIsRefusedWhereNoScopeCoversTheResourceAndOperation(string scope, string method) =>
        AssertRefusal(ApiKeyRefusal.ScopeInsufficient, 403, "SCOPE_INSUFFICIENT", CheckRoute(Orders, Known(ApiKeyType.Secret, Valid([scope])), method));

    [Fact]
    public void ScopeResourceComesFromTheRouteValueTheRouteNames()
    {
        var known = Known(ApiKeyType.Secret, Valid(["orders:create"]));

        Assert.Null(CheckRoute(DataTable, known, "POST", new RouteValueDictionary { ["table"] = "orders" }));
        AssertRefusal(
            ApiKeyRefusal.ScopeInsufficient, 403, "SCOPE_INSUFFICIENT", CheckRoute(DataTable, known, "POST", new RouteValueDictionary { ["table"] = "users" }));
    }

    [Fact]
    public void MissingRouteValueIsNoResourceAScopedKeyCovers() =>
        AssertRefusal(ApiKeyRefusal.ScopeInsufficient, 403, "SCOPE_INSUFFICIENT", CheckRoute(DataTable, Known(ApiKeyType.Secret, Valid(["orders:*"])), "GET"));

    [Fact]
    public void RouteNamingAWholeScopeChecksThatOperationWhateverTheMethod()
    {
        var reader = Known(ApiKeyType.Secret, Valid(["reports:read"]));
        var creator = Known(ApiKeyType.Secret, Valid(["reports:create"]));

        Assert.Null(CheckRoute(ReportsRead, reader, "POST"));
        AssertRefusal(ApiKeyRefusal.ScopeInsufficient, 403, "SCOPE_INSUFFICIENT", CheckRoute(ReportsRead, creator, "GET"));
    }

    private static ApiKeyRefusal? CheckRequest(RoutePolicy policy, PresentedRequest request) => KeyCheck.CheckRequest(policy, request, out _, out _);

    private static ApiKeyRefusal? CheckRoute(RoutePolicy policy, ValidatedApiKey known, string method, RouteValueDictionary? routeValues = null) =>
        KeyCheck.CheckRoute(policy, known, method, routeValues ?? NoRouteValues);

    private ValidatedApiKey Known(ApiKeyType type, ValidateResponse response) => new(response, type, _time.GetUtcNow().UtcTicks);

    private static ValidateResponse Valid(string[]? scopes = null, DateTimeOffset? expiresAt = null, DateTimeOffset? revokesAt = null)
    {
        var response = new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = "key_0123456789abcdefghij",
            ProjectId = "prj_0123456789abcdefghij",
            Environment = "production",
            ExpiresAt = expiresAt is { } expires ? Timestamp.FromDateTimeOffset(expires) : null,
            RevokesAt = revokesAt is { } revokes ? Timestamp.FromDateTimeOffset(revokes) : null,
        };
        response.Scopes.Add(scopes ?? []);
        return response;
    }

    private static RoutePolicy Policy(params (string Key, string Value)[] metadata) =>
        RoutePolicy.Parse(metadata.ToDictionary(m => m.Key, m => m.Value));

    private static void AssertRefusal(ApiKeyRefusal expected, int statusCode, string error, ApiKeyRefusal? actual)
    {
        Assert.NotNull(actual);
        Assert.Same(expected, actual);
        Assert.Equal((statusCode, error), (actual.StatusCode, actual.Error));
    }
}
