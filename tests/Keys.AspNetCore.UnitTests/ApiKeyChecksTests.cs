using Google.Protobuf.WellKnownTypes;
using Keys.ApiKeys;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Validation;
using Keys.V1;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// The key check every service makes (the gateway included), branch by branch, with the status and code each refusal
/// puts on the wire. The clock is fake, so that instants (expiry, a roll's end) are hit exactly.
/// </summary>
public sealed class ApiKeyChecksTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly string _secret = KeyString.Generate(ApiKeyType.Secret);
    private readonly string _publishable = KeyString.Generate(ApiKeyType.Publishable);

    // --- Reading the key from a request: HTTP header or gRPC metadata, the same bytes ---

    [Fact]
    public void KeyIsReadFromTheXApiKeyHeaderWhateverItsCase()
    {
        var headers = new HeaderDictionary { ["x-api-key"] = _secret };

        var presented = PresentedKey.From(headers);

        Assert.Equal(_secret, presented.ApiKey.ToString());
        Assert.Null(ApiKeyChecks.CheckPresented(presented, out var key, out var type));
        Assert.Equal((_secret, ApiKeyType.Secret), (key, type));
    }

    [Fact]
    public void BinaryMetadataEntryIsNeverTakenForTheKey()
    {
        var headers = new HeaderDictionary { ["x-api-key-bin"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(_secret)) };

        AssertRefusal(ApiKeyRefusal.MissingKey, 401, "UNAUTHORIZED", ApiKeyChecks.CheckPresented(PresentedKey.From(headers), out _, out _));
    }

    [Fact]
    public void TwoMetadataEntriesForTheKeyAreAmbiguous()
    {
        var headers = new HeaderDictionary { ["x-api-key"] = new StringValues([_secret, _secret]) };

        AssertRefusal(ApiKeyRefusal.AmbiguousKey, 401, "INVALID_TOKEN", ApiKeyChecks.CheckPresented(PresentedKey.From(headers), out _, out _));
    }

    [Fact]
    public void BrowserHeadersAreNoticedWhenReadingTheRequest()
    {
        Assert.True(PresentedKey.From(new HeaderDictionary { ["Origin"] = "https://shop.example" }).SentOrigin);
        Assert.True(PresentedKey.From(new HeaderDictionary { ["sec-fetch-mode"] = "cors" }).SentSecFetch);
        Assert.True(PresentedKey.From(new HeaderDictionary { ["Sec-Fetch-Site"] = "same-site" }).SentSecFetch);
        var server = PresentedKey.From(new HeaderDictionary { ["x-api-key"] = _secret, ["user-agent"] = "grpc-dotnet/2.85" });
        Assert.False(server.SentOrigin || server.SentSecFetch);
    }

    // --- What the key alone decides ---

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void NoOrBlankKeyIsMissingAndSpendsNoPermit(string presented)
    {
        var refusal = ApiKeyChecks.CheckPresented(new PresentedKey(presented), out _, out _);

        AssertRefusal(ApiKeyRefusal.MissingKey, 401, "UNAUTHORIZED", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("sk_live_123")]
    [InlineData("Bearer sk_")]
    public void MalformedKeyIsInvalidAndSpendsAPermit(string presented)
    {
        var refusal = ApiKeyChecks.CheckPresented(new PresentedKey(presented), out _, out _);

        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", refusal);
        Assert.True(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void KeyWithOneCharacterChangedFailsItsChecksum()
    {
        var tampered = _secret[..10] + (_secret[10] == 'a' ? 'b' : 'a') + _secret[11..];

        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", ApiKeyChecks.CheckPresented(new PresentedKey(tampered), out _, out _));
    }

    [Fact]
    public void TwoKeysInOneValueAreAmbiguousAndSpendAPermit()
    {
        var refusal = ApiKeyChecks.CheckPresented(new PresentedKey($"{_secret},{_publishable}"), out _, out _);

        AssertRefusal(ApiKeyRefusal.AmbiguousKey, 401, "INVALID_TOKEN", refusal);
        Assert.True(ApiKeyChecks.SpendsPermit(refusal!));
    }

    [Fact]
    public void SecretKeyFromABrowserIsRefusedWithoutSpendingAPermit()
    {
        var refusal = ApiKeyChecks.CheckPresented(new PresentedKey(_secret, SentSecFetch: true), out _, out _);

        AssertRefusal(ApiKeyRefusal.SecretKeyInBrowser, 403, "SECRET_KEY_IN_BROWSER", refusal);
        Assert.False(ApiKeyChecks.SpendsPermit(refusal!));
        AssertRefusal(ApiKeyRefusal.SecretKeyInBrowser, 403, "SECRET_KEY_IN_BROWSER", ApiKeyChecks.CheckPresented(new PresentedKey(_secret, SentOrigin: true), out _, out _));
    }

    [Fact]
    public void PublishableKeyFromABrowserPassesWithItsType()
    {
        Assert.Null(ApiKeyChecks.CheckPresented(new PresentedKey(_publishable, SentOrigin: true, SentSecFetch: true), out var key, out var type));
        Assert.Equal((_publishable, ApiKeyType.Publishable), (key, type));
    }

    // --- KeyValidation's answer, and the key it describes at each instant ---

    [Theory]
    [InlineData(ValidationOutcome.NotFound)]
    [InlineData(ValidationOutcome.InvalidFormat)]
    [InlineData(ValidationOutcome.Unspecified)]
    public void KeyValidationNotKnowingTheKeyIsAnInvalidKey(ValidationOutcome outcome) =>
        AssertRefusal(ApiKeyRefusal.InvalidKey, 401, "INVALID_TOKEN", ApiKeyChecks.CheckAnswer(new ValidateResponse { Outcome = outcome }));

    [Fact]
    public void KeyValidationSayingExpiredIsAnExpiredKey() =>
        AssertRefusal(ApiKeyRefusal.ExpiredKey, 401, "TOKEN_EXPIRED", ApiKeyChecks.CheckAnswer(new ValidateResponse { Outcome = ValidationOutcome.Expired }));

    [Fact]
    public void KeyValidationSayingRevokedIsARevokedKey() =>
        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckAnswer(new ValidateResponse { Outcome = ValidationOutcome.Revoked }));

    [Fact]
    public void KeyValidationSayingValidLeavesTheDecisionToTheValidatedKey() =>
        Assert.Null(ApiKeyChecks.CheckAnswer(Valid()));


    [Fact]
    public void KeyPassesUntilTheInstantItExpiresAndIsRefusedFromThen()
    {
        var known = Known(ApiKeyType.Secret, Valid(expiresAt: _time.GetUtcNow().AddMinutes(1)));

        _time.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(1));
        Assert.Null(ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));

        _time.Advance(TimeSpan.FromTicks(1));
        AssertRefusal(ApiKeyRefusal.ExpiredKey, 401, "TOKEN_EXPIRED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void DeletedKeyKeptInTheNearCacheIsRefusedAsRevoked()
    {
        var known = Known(ApiKeyType.Secret, Valid()).WithRevokesAt(_time.GetUtcNow().UtcTicks);

        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void RolledKeyPassesDuringItsGracePeriod()
    {
        var known = Known(ApiKeyType.Secret, Valid(revokesAt: _time.GetUtcNow().AddHours(24)));

        _time.Advance(TimeSpan.FromHours(24) - TimeSpan.FromTicks(1));

        Assert.Null(ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void RolledKeyIsRefusedOnceItsRevokesAtInstantPasses()
    {
        var known = Known(ApiKeyType.Secret, Valid(revokesAt: _time.GetUtcNow().AddHours(24)));

        _time.Advance(TimeSpan.FromHours(24));

        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void KeyBothRevokedAndExpiredIsReportedAsRevoked()
    {
        var now = _time.GetUtcNow();
        var known = Known(ApiKeyType.Secret, Valid(expiresAt: now, revokesAt: now));

        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    // --- A disabled key ---

    [Fact]
    public void KeyValidationSayingDisabledDescribesTheKeySoThatItIsCachedAndRefusedAsDisabled()
    {
        var answer = Valid();
        answer.Outcome = ValidationOutcome.Disabled;

        Assert.Null(ApiKeyChecks.CheckAnswer(answer));
        var known = Known(ApiKeyType.Secret, answer);
        Assert.True(known.Disabled);
        AssertRefusal(ApiKeyRefusal.DisabledKey, 401, "TOKEN_DISABLED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    [Fact]
    public void DisabledKeyThatIsAlsoRevokedOrExpiredIsReportedAsRevokedOrExpired()
    {
        var now = _time.GetUtcNow();
        var revoked = Valid(revokesAt: now);
        revoked.Outcome = ValidationOutcome.Disabled;
        var expired = Valid(expiresAt: now);
        expired.Outcome = ValidationOutcome.Disabled;

        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckValidity(Known(ApiKeyType.Secret, revoked), now.UtcTicks));
        AssertRefusal(ApiKeyRefusal.ExpiredKey, 401, "TOKEN_EXPIRED", ApiKeyChecks.CheckValidity(Known(ApiKeyType.Secret, expired), now.UtcTicks));
    }

    [Fact]
    public void DisabledKeyKeepsBeingDisabledWhenADeleteMovesItsRevocationCloser()
    {
        var answer = Valid();
        answer.Outcome = ValidationOutcome.Disabled;
        var known = Known(ApiKeyType.Secret, answer).WithRevokesAt(_time.GetUtcNow().AddMinutes(1).UtcTicks);

        AssertRefusal(ApiKeyRefusal.DisabledKey, 401, "TOKEN_DISABLED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
        _time.Advance(TimeSpan.FromMinutes(1));
        AssertRefusal(ApiKeyRefusal.RevokedKey, 401, "TOKEN_REVOKED", ApiKeyChecks.CheckValidity(known, _time.GetUtcNow().UtcTicks));
    }

    // --- Where a key is used from ---

    [Fact]
    public void KeyWithoutAllowlistsPassesFromAnyAddressAndAnyOriginOrNone()
    {
        var known = Known(ApiKeyType.Secret, Valid());

        Assert.Null(known.AllowedNetworks);
        Assert.Null(known.AllowedOrigins);
        Assert.Null(ApiKeyChecks.CheckClient(known, null, StringValues.Empty));
        Assert.Null(ApiKeyChecks.CheckClient(known, System.Net.IPAddress.Parse("198.51.100.1"), "https://anywhere.example"));
    }

    [Theory]
    [InlineData("10.1.2.3", null)]
    [InlineData("::ffff:10.1.2.3", null)]
    [InlineData("2001:db8:1::7", null)]
    [InlineData("10.2.0.1", "IP_NOT_ALLOWED")]
    [InlineData("2001:db8:2::7", "IP_NOT_ALLOWED")]
    [InlineData(null, "IP_NOT_ALLOWED")]
    public void SecretKeyWithNetworksPassesOnlyFromThem(string? client, string? refusal)
    {
        var answer = Valid();
        answer.AllowedCidrs.Add(["10.1.0.0/16", "2001:db8:1::/48"]);
        var known = Known(ApiKeyType.Secret, answer);

        var result = ApiKeyChecks.CheckClient(known, client is null ? null : System.Net.IPAddress.Parse(client), StringValues.Empty);

        if (refusal is null)
        {
            Assert.Null(result);
        }
        else
        {
            AssertRefusal(ApiKeyRefusal.IpNotAllowed, 403, refusal, result);
        }
    }

    [Theory]
    [InlineData("https://app.example.com", null)]
    [InlineData("HTTPS://App.Example.com", null)]
    [InlineData("https://admin.example.com", "ORIGIN_NOT_ALLOWED")]
    [InlineData("https://app.example.com.evil.example", "ORIGIN_NOT_ALLOWED")]
    [InlineData("http://app.example.com", "ORIGIN_NOT_ALLOWED")]
    [InlineData("null", "ORIGIN_NOT_ALLOWED")]
    [InlineData("", "ORIGIN_NOT_ALLOWED")]
    [InlineData(null, "ORIGIN_NOT_ALLOWED")]
    public void PublishableKeyWithOriginsPassesOnlyWithOneOfThemAndNeverWithoutAnOrigin(string? origin, string? refusal)
    {
        var answer = Valid();
        answer.AllowedOrigins.Add(["https://app.example.com", "https://other.example.com/"]);
        var known = Known(ApiKeyType.Publishable, answer);

        var result = ApiKeyChecks.CheckClient(known, System.Net.IPAddress.Loopback, origin is null ? StringValues.Empty : new StringValues(origin));

        if (refusal is null)
        {
            Assert.Null(result);
        }
        else
        {
            AssertRefusal(ApiKeyRefusal.OriginNotAllowed, 403, refusal, result);
        }
    }

    [Fact]
    public void TwoOriginHeadersAreNeverAllowedEvenIfOneIsListed()
    {
        var answer = Valid();
        answer.AllowedOrigins.Add("https://app.example.com");

        Assert.Same(
            ApiKeyRefusal.OriginNotAllowed,
            ApiKeyChecks.CheckClient(Known(ApiKeyType.Publishable, answer), null, new StringValues(["https://app.example.com", "https://app.example.com"])));
    }

    [Fact]
    public void TrailingSlashOfAnAllowedOriginIsIgnored()
    {
        var answer = Valid();
        answer.AllowedOrigins.Add("https://other.example.com/");

        Assert.Null(ApiKeyChecks.CheckClient(Known(ApiKeyType.Publishable, answer), null, "https://other.example.com"));
    }

    // --- Scopes an endpoint requires ---

    [Theory]
    [InlineData("orders:read")]
    [InlineData("orders:*")]
    [InlineData("*:read")]
    public void ScopedKeyPassesWhereAScopeCoversTheResourceAndOperation(string scope) =>
        Assert.Null(ApiKeyChecks.CheckScope(Known(ApiKeyType.Secret, Valid(["reports:read", scope])), "orders", "read"));

    [Theory]
    [InlineData("orders:create")]
    [InlineData("reports:*")]
    public void ScopedKeyIsRefusedWhereNoScopeCoversTheResourceAndOperation(string scope) =>
        AssertRefusal(ApiKeyRefusal.ScopeInsufficient, 403, "SCOPE_INSUFFICIENT", ApiKeyChecks.CheckScope(Known(ApiKeyType.Secret, Valid([scope])), "orders", "read"));

    [Fact]
    public void PublishableKeyWithoutScopesReadsButMayNotWrite()
    {
        var known = Known(ApiKeyType.Publishable, Valid());

        Assert.Null(ApiKeyChecks.CheckScope(known, "orders", "read"));
        AssertRefusal(ApiKeyRefusal.PublishableKeyReadOnly, 403, "SCOPE_INSUFFICIENT", ApiKeyChecks.CheckScope(known, "orders", "create"));
    }

    [Fact]
    public void SecretKeyWithoutScopesMayDoAnything() =>
        Assert.Null(ApiKeyChecks.CheckScope(Known(ApiKeyType.Secret, Valid()), "orders", "delete"));

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

    private static void AssertRefusal(ApiKeyRefusal expected, int statusCode, string error, ApiKeyRefusal? actual)
    {
        Assert.NotNull(actual);
        Assert.Same(expected, actual);
        Assert.Equal((statusCode, error), (actual.StatusCode, actual.Error));
    }
}
