using Google.Protobuf.WellKnownTypes;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

/// <summary>The request rules of a key's lifecycle: rate limits, allowlists, metadata, update masks, listings, FindKey.</summary>
public sealed class LifecycleRulesTests
{
    [Theory]
    [InlineData(1, 1, "", "local")]
    [InlineData(1_000_000_000, 86_400, "global", "global")]
    [InlineData(100, 60, "local", "local")]
    public void ARateLimitWithinItsBoundsIsKeptAndAnEmptyModeIsLocal(long limit, int window, string mode, string kept) =>
        Assert.Equal(new RateLimitSetting(limit, window, kept), RequestRules.RateLimit(new Keys.V1.RateLimit { Limit = limit, WindowSeconds = window, Mode = mode }));

    [Theory]
    [InlineData(0, 60, "local")]
    [InlineData(-1, 60, "local")]
    [InlineData(1_000_000_001, 60, "local")]
    [InlineData(10, 0, "local")]
    [InlineData(10, 86_401, "local")]
    [InlineData(10, 60, "Global")]
    [InlineData(10, 60, "cluster")]
    public void ARateLimitOutsideItsBoundsIsRefused(long limit, int window, string mode) =>
        ApiErrorAssert.InvalidArgument("INVALID_RATE_LIMIT", () => RequestRules.RateLimit(new Keys.V1.RateLimit { Limit = limit, WindowSeconds = window, Mode = mode }));

    [Fact]
    public void NoRateLimitMeansTheProjectsDefault() => Assert.Null(RequestRules.RateLimit(null));

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData(" 192.168.1.0/24 ", "192.168.1.0/24")]
    [InlineData("203.0.113.7", "203.0.113.7/32")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("2001:DB8::/32", "2001:db8::/32")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128")]
    [InlineData("::/0", "::/0")]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104")]
    public void ACidrIsKeptInItsCanonicalFormAndABareAddressIsThatOneAddress(string cidr, string kept) =>
        Assert.Equal([kept], RequestRules.AllowedCidrs([cidr]));

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.0/33")]
    [InlineData("2001:db8::/129")]
    [InlineData("10.0.0.0/08")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10/8")]
    [InlineData("0x0a000000/8")]
    [InlineData("010.0.0.0/8")]
    [InlineData("10.0.0.256")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData("example.com/24")]
    [InlineData("10.0.0.0/8/8")]
    public void AnythingButAnAddressWithAnOptionalPrefixIsRefused(string cidr) =>
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_CIDRS", () => RequestRules.AllowedCidrs([cidr]));

    [Fact]
    public void ANetworkWithBitsSetAfterItsPrefixIsRefusedNotWidenedAndTheMessageNamesBothReadings()
    {
        var error = ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_CIDRS", () => RequestRules.AllowedCidrs(["10.0.0.0/8", "10.1.2.3/8"]));

        Assert.Equal(
            "CIDR 2 of 2 has bits set after its /8 prefix: the network is 10.0.0.0/8; write that, or 10.1.2.3/32 for the one address.",
            error.Status.Detail);
    }

    [Fact]
    public void AMalformedCidrIsNamedByPositionNeverByValue()
    {
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        var error = ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_CIDRS", () => RequestRules.AllowedCidrs(["10.0.0.0/8", pasted]));

        Assert.StartsWith("CIDR 2 of 2 is not a network", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(pasted, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void CidrsAreKeptInOrderWithoutRepeatsUpToOneHundred()
    {
        Assert.Equal(["10.0.0.0/8", "192.168.0.0/16"], RequestRules.AllowedCidrs(["10.0.0.0/8", "192.168.0.0/16", "10.0.0.0/8"]));
        Assert.Equal(100, RequestRules.AllowedCidrs([.. Enumerable.Range(0, 100).Select(i => $"10.0.{i}.0/24")]).Length);
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_CIDRS", () => RequestRules.AllowedCidrs([.. Enumerable.Range(0, 101).Select(i => $"10.0.{i}.0/24")]));
    }

    [Theory]
    [InlineData("https://app.example.com", "https://app.example.com")]
    [InlineData("https://App.Example.COM", "https://app.example.com")]
    [InlineData("HTTPS://app.example.com", "https://app.example.com")]
    [InlineData("https://app.example.com/", "https://app.example.com")]
    [InlineData("https://app.example.com:443", "https://app.example.com")]
    [InlineData("http://app.example.com:80", "http://app.example.com")]
    [InlineData("https://app.example.com:8443", "https://app.example.com:8443")]
    [InlineData("http://localhost:3000", "http://localhost:3000")]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080")]
    [InlineData("https://bücher.example", "https://xn--bcher-kva.example")]
    public void AnOriginIsKeptAsABrowserSendsIt(string origin, string kept) =>
        Assert.Equal([kept], RequestRules.AllowedOrigins([origin]));

    [Theory]
    [InlineData("")]
    [InlineData("app.example.com")]
    [InlineData("https:app.example.com")]
    [InlineData("ftp://app.example.com")]
    [InlineData("https://app.example.com/login")]
    [InlineData("https://app.example.com//")]
    [InlineData("https://app.example.com?x=1")]
    [InlineData("https://app.example.com#top")]
    [InlineData("https://user@app.example.com")]
    [InlineData("https://*.example.com")]
    [InlineData("https://app.example.com:0")]
    [InlineData("https://app.example.com:99999")]
    [InlineData("null")]
    public void AnythingButSchemeHostAndPortIsRefusedAsAnOrigin(string origin) =>
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_ORIGINS", () => RequestRules.AllowedOrigins([origin]));

    [Fact]
    public void AnOriginsHostIsAtMost253CharactersInLabelsOfAtMost63AsKept()
    {
        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253.
        var longest = $"{new string('a', 63)}.{new string('b', 63)}.{new string('c', 63)}.{new string('d', 61)}";
        var kept = $"https://{longest}:65535";

        Assert.Equal([kept], RequestRules.AllowedOrigins([kept]));
        Assert.Equal(RequestRules.MaxOriginHostLength, longest.Length);
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_ORIGINS", () => RequestRules.AllowedOrigins([$"https://{longest}d"]));
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_ORIGINS", () => RequestRules.AllowedOrigins([$"https://{new string('a', 64)}.example"]));
        // Measured as kept: six labels of 14 characters typed are six of 43 in punycode (xn--…), 263 in all.
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_ORIGINS", () => RequestRules.AllowedOrigins([$"https://{string.Join('.', Enumerable.Repeat("東京大阪名古屋東京大阪名古屋", 6))}"]));
    }

    [Fact]
    public void OriginsAreKeptInOrderWithoutRepeatsUpToOneHundred()
    {
        Assert.Equal(["https://a.example", "https://b.example"], RequestRules.AllowedOrigins(["https://a.example", "https://b.example", "https://A.example/"]));
        ApiErrorAssert.InvalidArgument("INVALID_ALLOWED_ORIGINS", () => RequestRules.AllowedOrigins([.. Enumerable.Range(0, 101).Select(i => $"https://a{i}.example")]));
    }

    [Theory]
    [InlineData(ApiKeyType.Secret, new[] { "10.0.0.0/8" }, new string[0], true)]
    [InlineData(ApiKeyType.Publishable, new string[0], new[] { "https://a.example" }, true)]
    [InlineData(ApiKeyType.Publishable, new[] { "10.0.0.0/8" }, new string[0], false)]
    [InlineData(ApiKeyType.Secret, new string[0], new[] { "https://a.example" }, false)]
    public void CidrsAreForSecretKeysAndOriginsForPublishableKeys(ApiKeyType type, string[] cidrs, string[] origins, bool accepted)
    {
        if (accepted)
        {
            RequestRules.Allowlists(type, cidrs, origins);
        }
        else
        {
            ApiErrorAssert.InvalidArgument("ALLOWLIST_NOT_FOR_KEY_TYPE", () => RequestRules.Allowlists(type, cidrs, origins));
        }
    }

    [Fact]
    public void MetadataIsKeptAsCompactJson()
    {
        var metadata = Struct.Parser.ParseJson("""{ "team": "billing", "cost center": 42, "tags": ["a", null, true], "owner": { "name": "Ana" } }""");

        Assert.Equal("""{"team":"billing","cost center":42,"tags":["a",null,true],"owner":{"name":"Ana"}}""", RequestRules.Metadata(metadata));
        Assert.Null(RequestRules.Metadata(null));
        Assert.Null(RequestRules.Metadata(new Struct()));
    }

    [Fact]
    public void MetadataIsAtMostOneKilobyteAsCompactJsonCountingUtf8Bytes()
    {
        // {"a":"…"} is 8 bytes around the string; é is 2 bytes in UTF-8 (and 6 as \u00e9, which is not how it is counted).
        Assert.NotNull(RequestRules.Metadata(Text(new string('x', 1016))));
        ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(Text(new string('x', 1017))));
        Assert.NotNull(RequestRules.Metadata(Text(new string('é', 508))));
        ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(Text(new string('é', 509))));

        static Struct Text(string value) => new() { Fields = { ["a"] = Value.ForString(value) } };
    }

    public static TheoryData<string> SecretsInMetadata()
    {
        var secret = KeyString.Generate(ApiKeyType.Secret);
        var publishable = KeyString.Generate(ApiKeyType.Publishable);
        var token = OperatorToken.Generate();
        return new TheoryData<string>
        {
            $$"""{"key":"{{secret}}"}""",
            $$"""{"note":"rotated from {{publishable}} on Monday"}""",
            $$$"""{"deep":{"list":[1,"{{{token}}}"]}}""",
            $$"""{"{{secret}}":"as a name"}""",
        };
    }

    [Theory]
    [MemberData(nameof(SecretsInMetadata))]
    public void MetadataHoldingAKeyOrATokenAnywhereIsRefusedWithoutEchoingIt(string json)
    {
        var error = ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(Struct.Parser.ParseJson(json)));

        Assert.DoesNotContain("_", error.Status.Detail.Replace("an API key", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void MetadataThatLooksLikeAKeyButFailsItsChecksumIsKept()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        var almost = key[..^1] + (key[^1] == '0' ? '1' : '0');
        var json = $$"""{"ref":"{{almost}}"}""";

        Assert.Equal(json, RequestRules.Metadata(Struct.Parser.ParseJson(json)));
    }

    [Theory]
    [InlineData("""{"note":"a\u0000b"}""")]
    [InlineData("""{"a\u0000b":"in a name"}""")]
    [InlineData("""{"deep":{"list":[1,"\u0000"]}}""")]
    public void MetadataHoldingANulCharacterWhichJsonbCannotStoreIsRefused(string json) =>
        ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(Struct.Parser.ParseJson(json)));

    [Fact]
    public void MetadataHoldingHalfASurrogatePairIsRefused()
    {
        foreach (var text in new[] { "\ud800", "a\udc00", "\udc00\ud800", "\ud83d\ud83d\udd11x" })
        {
            ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(new Struct { Fields = { ["a"] = Value.ForString(text) } }));
            ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(new Struct { Fields = { [text] = Value.ForNull() } }));
        }
    }

    [Fact]
    public void MetadataKeepsWholeSurrogatePairs()
    {
        var metadata = new Struct { Fields = { ["emoji"] = Value.ForString("🔑") } };

        Assert.Equal(metadata, Struct.Parser.ParseJson(RequestRules.Metadata(metadata)));
    }

    [Theory]
    [InlineData(0d, "0")]
    [InlineData(42d, "42")]
    [InlineData(-1.5, "-1.5")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e15, "1000000000000000")]
    [InlineData(1.5e-5, "0.000015")]
    [InlineData(1.2345678901234567e20, "123456789012345670000")]
    [InlineData(-2.5e-7, "-0.00000025")]
    public void ANumberIsWrittenInPlainDecimalAsPostgresKeepsIt(double value, string plain)
    {
        Assert.Equal(plain, RequestRules.PlainDecimal(value));
        Assert.Equal(value, double.Parse(plain, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void HugeAndTinyNumbersAreWrittenOutWholeAndRoundTrip()
    {
        var huge = RequestRules.PlainDecimal(1E+308);
        var tiny = RequestRules.PlainDecimal(-1e-300);

        Assert.Equal("1" + new string('0', 308), huge);
        Assert.Equal("-0." + new string('0', 299) + "1", tiny);
        Assert.Equal((1E+308, -1e-300), (double.Parse(huge, System.Globalization.CultureInfo.InvariantCulture), double.Parse(tiny, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(double.MaxValue, double.Parse(RequestRules.PlainDecimal(double.MaxValue), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(double.Epsilon, double.Parse(RequestRules.PlainDecimal(double.Epsilon), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void MetadataIsMeasuredWithItsNumbersWrittenOutAsJsonbPrintsThem()
    {
        // 6 and 7 bytes as sent; 309 and 303 as Postgres keeps them, and so in listings and audit events.
        var one = Struct.Parser.ParseJson("""{"a":1E+308,"b":-1e-300}""");
        var four = Struct.Parser.ParseJson("""{"a":1E+308,"b":-1e-300,"c":1E+308,"d":-1e-300}""");

        var kept = RequestRules.Metadata(one);

        Assert.Equal($$"""{"a":1{{new string('0', 308)}},"b":-0.{{new string('0', 299)}}1}""", kept);
        Assert.Equal(one, Struct.Parser.ParseJson(kept));
        var error = ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(four));
        Assert.Contains("1245 bytes", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void MetadataValuesJsonCannotHoldAreRefused()
    {
        ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(new Struct { Fields = { ["n"] = Value.ForNumber(double.NaN) } }));
        ApiErrorAssert.InvalidArgument("INVALID_METADATA", () => RequestRules.Metadata(new Struct { Fields = { ["n"] = new Value() } }));
    }

    [Fact]
    public void AMaskNamesKeyFieldsByTheirJsonOrProtoNames()
    {
        var mask = new FieldMask { Paths = { "name", "expiresAt", "allowed_cidrs", "rate_limit", "name" } };

        Assert.Equal(
            [KeyField.Name, KeyField.ExpiresAt, KeyField.AllowedCidrs, KeyField.RateLimit],
            RequestRules.KeyUpdateFields(mask, fromRest: false).ToArray());
    }

    // The rule maps fields by number onto the enum: a field added or moved in the proto without the enum would change
    // another field than the one named.
    [Fact]
    public void EveryUpdatableFieldOfKeysAndProjectsMapsToItsOwnField()
    {
        foreach (var field in Keys.V1.KeyUpdate.Descriptor.Fields.InFieldNumberOrder())
        {
            var mapped = Assert.Single(RequestRules.KeyUpdateFields(new FieldMask { Paths = { field.Name } }, fromRest: false));
            Assert.Equal(field.JsonName, KeyDiff.NameOf(mapped));
        }

        Assert.Equal(
            [ProjectField.Name, ProjectField.DefaultRateLimit, ProjectField.MaxSecretKeyLifetimeDays],
            Keys.V1.ProjectUpdate.Descriptor.Fields.InFieldNumberOrder()
                .Select(f => Assert.Single(RequestRules.ProjectUpdateFields(new FieldMask { Paths = { f.JsonName } }, fromRest: false))));
        Assert.Equal(System.Enum.GetValues<KeyField>().Length, Keys.V1.KeyUpdate.Descriptor.Fields.InFieldNumberOrder().Count);
    }

    [Fact]
    public void AnEmptyMaskIsRefusedOverGrpcNamingEveryFieldAndIsNothingToUpdateOverRest()
    {
        var grpc = ApiErrorAssert.InvalidArgument("INVALID_UPDATE_MASK", () => RequestRules.KeyUpdateFields(new FieldMask(), fromRest: false));
        ApiErrorAssert.InvalidArgument("INVALID_UPDATE_MASK", () => RequestRules.KeyUpdateFields(null, fromRest: false));
        ApiErrorAssert.InvalidArgument("NOTHING_TO_UPDATE", () => RequestRules.KeyUpdateFields(null, fromRest: true));
        ApiErrorAssert.InvalidArgument("NOTHING_TO_UPDATE", () => RequestRules.ProjectUpdateFields(new FieldMask(), fromRest: true));

        Assert.Contains("name, scopes, expiresAt, enabled, rateLimit, allowedCidrs, allowedOrigins, metadata", grpc.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("value")]
    [InlineData("rate_limit.limit")]
    [InlineData("key.name")]
    [InlineData("Name")]
    [InlineData("type")]
    public void AMaskPathThatIsNotAnUpdatableFieldIsRefused(string path) =>
        ApiErrorAssert.InvalidArgument("INVALID_UPDATE_MASK", () => RequestRules.KeyUpdateFields(new FieldMask { Paths = { "name", path } }, fromRest: false));

    [Fact]
    public void AnUnknownMaskPathIsNamedByPositionNeverByValue()
    {
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        var error = ApiErrorAssert.InvalidArgument("INVALID_UPDATE_MASK", () => RequestRules.KeyUpdateFields(new FieldMask { Paths = { "name", pasted } }, fromRest: true));

        Assert.StartsWith("update_mask path 2 of 2", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(pasted, error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(1, 1)]
    [InlineData(90, 90)]
    [InlineData(3650, 3650)]
    public void ALifetimePolicyIsOneTo3650DaysAndZeroClearsIt(int days, int? kept) => Assert.Equal(kept, RequestRules.LifetimeDays(days));

    [Theory]
    [InlineData(-1)]
    [InlineData(3651)]
    public void ALifetimePolicyOutsideItsBoundsIsRefused(int days) =>
        ApiErrorAssert.InvalidArgument("INVALID_LIFETIME_POLICY", () => RequestRules.LifetimeDays(days));

    [Theory]
    [InlineData(0, RequestRules.DefaultPageSize)]
    [InlineData(1, 1)]
    [InlineData(500, 500)]
    public void APageSizeOfZeroIsFifty(int pageSize, int applied) => Assert.Equal(applied, RequestRules.PageSize(pageSize));

    [Theory]
    [InlineData(-1)]
    [InlineData(501)]
    public void APageSizeOutsideOneTo500IsRefused(int pageSize) =>
        ApiErrorAssert.InvalidArgument("INVALID_PAGE_SIZE", () => RequestRules.PageSize(pageSize));

    [Theory]
    [InlineData(0, 0, 100)]
    [InlineData(0, 7, 7)]
    [InlineData(1000, 0, 1000)]
    [InlineData(20, 7, 20)]
    public void TheAuditPageSizeFallsBackToTheOlderLimitThenTo100(int pageSize, int limit, int applied) =>
        Assert.Equal(applied, RequestRules.AuditPageSize(pageSize, limit));

    [Fact]
    public void AnAuditPageSizeOutsideOneTo1000IsRefusedAndTheOlderLimitKeepsItsOwnCode()
    {
        ApiErrorAssert.InvalidArgument("INVALID_PAGE_SIZE", () => RequestRules.AuditPageSize(1001, 0));
        ApiErrorAssert.InvalidArgument("INVALID_PAGE_SIZE", () => RequestRules.AuditPageSize(-1, 0));
        ApiErrorAssert.InvalidArgument("INVALID_LIMIT", () => RequestRules.AuditPageSize(0, 1001));
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("active", "active")]
    [InlineData("disabled", "disabled")]
    [InlineData("expired", "expired")]
    [InlineData("rolling", "rolling")]
    public void AStatusFilterIsAListableStatusOrNone(string status, string? kept) => Assert.Equal(kept, RequestRules.StatusFilter(status));

    [Theory]
    [InlineData("deleted")]
    [InlineData("Active")]
    [InlineData("revoked")]
    public void AnyOtherStatusFilterIsRefused(string status) =>
        ApiErrorAssert.InvalidArgument("INVALID_STATUS_FILTER", () => RequestRules.StatusFilter(status));

    [Fact]
    public void ATypeFilterIsAKeyTypeOrNone()
    {
        Assert.Null(RequestRules.KeyTypeFilter(""));
        Assert.Equal(ApiKeyType.Secret, RequestRules.KeyTypeFilter("secret"));
        ApiErrorAssert.InvalidArgument("INVALID_KEY_TYPE", () => RequestRules.KeyTypeFilter("restricted"));
    }

    [Fact]
    public void AQueryIsUpTo64CharactersWithoutControlCharacters()
    {
        Assert.Null(RequestRules.Query(""));
        Assert.Equal("50%_off ", RequestRules.Query("50%_off "));
        Assert.Equal(new string('q', 64), RequestRules.Query(new string('q', 64)));
        ApiErrorAssert.InvalidArgument("INVALID_QUERY", () => RequestRules.Query(new string('q', 65)));
        ApiErrorAssert.InvalidArgument("INVALID_QUERY", () => RequestRules.Query("a\nb"));
    }

    public static TheoryData<string> QueriesHoldingASecret()
    {
        var secret = KeyString.Generate(ApiKeyType.Secret);
        return new TheoryData<string>
        {
            secret,
            KeyString.Generate(ApiKeyType.Publishable),
            OperatorToken.Generate(),
            $" {secret} ",
            $"key={secret}&x",
        };
    }

    [Theory]
    [MemberData(nameof(QueriesHoldingASecret))]
    public void AQueryHoldingAKeyOrTokenIsRefusedPointingToFindKeyWithoutEchoingIt(string query)
    {
        var error = ApiErrorAssert.InvalidArgument("INVALID_QUERY", () => RequestRules.Query(query));

        Assert.Contains("FindKey (POST /v1/keys:find)", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(query.Trim().Split(' ', '=', '&').Single(p => p.Length == KeyString.Length)[3..], error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AQueryOfAMaskedValueOrAKeyThatFailsItsChecksumIsASearch()
    {
        var key = KeyString.Generate(ApiKeyType.Secret);
        var almost = key[..^1] + (key[^1] == '0' ? '1' : '0');

        Assert.Equal(KeyString.Mask(key), RequestRules.Query(KeyString.Mask(key)));
        Assert.Equal(almost, RequestRules.Query(almost));
    }

    [Theory]
    [InlineData("abc", true)]
    [InlineData("my-app-key", true)]
    [InlineData("x9Qz", true)]
    [InlineData("ab", false)]
    [InlineData("a-b-c", false)]
    [InlineData("ééé", false)]
    [InlineData("東京都", false)]
    [InlineData("ключ", false)]
    [InlineData("²³¹", false)]
    [InlineData("ü-abc", true)]
    public void OnlyARunOfThreeAsciiLettersOrDigitsTakesTheTrigramIndexes(string query, bool trigram) =>
        Assert.Equal(trigram, KeyStore.HasTrigram(query));

    [Theory]
    [InlineData(ApiKeyType.Secret)]
    [InlineData(ApiKeyType.Publishable)]
    public void FindKeyTakesAWholeKeySurroundingWhitespaceAside(ApiKeyType type)
    {
        var key = KeyString.Generate(type);
        Assert.Equal(key, RequestRules.FindKeyValue($" {key}\n"));
    }

    public static TheoryData<string> NotKeys() => new()
    {
        "",
        "sk_",
        KeyString.Generate(ApiKeyType.Secret)[..^1],
        KeyString.Generate(ApiKeyType.Secret)[..^1] + "!",
        "key_0123456789abcdefABCDEF",
        OperatorToken.Generate(),
        "Bearer " + KeyString.Generate(ApiKeyType.Secret),
    };

    [Theory]
    [MemberData(nameof(NotKeys))]
    public void FindKeyRefusesAnythingButAKeyOperatorTokensIncludedWithoutEchoingIt(string value)
    {
        var error = ApiErrorAssert.InvalidArgument("INVALID_KEY_FORMAT", () => RequestRules.FindKeyValue(value));

        if (value.Length > 3)
        {
            Assert.DoesNotContain(value.Trim()[3..], error.Status.Detail, StringComparison.Ordinal);
        }
    }
}
