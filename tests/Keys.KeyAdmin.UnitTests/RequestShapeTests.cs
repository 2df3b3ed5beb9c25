using System.Text;
using Keys.ApiKeys;
using Keys.KeyAdmin.OpenApi;
using Keys.KeyAdmin.Rest;
using Keys.V1;
using Microsoft.Extensions.Primitives;

namespace Keys.KeyAdmin.UnitTests;

public sealed class RequestShapeTests
{
    private static readonly string PastedKey = KeyString.Generate(ApiKeyType.Secret);

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"name":"my-key","type":"secret","scopes":["posts:read"],"expiresAt":"2030-01-31T12:00:00Z"}""")]
    [InlineData("""{"name":"k","type":"secret","rateLimit":{"limit":"5","windowSeconds":60,"mode":"local"}}""")]
    [InlineData("""{"name":"k","rateLimit":{"limit":5}}""")]
    [InlineData("""{"name":null,"expiresAt":null,"rateLimit":null,"metadata":null}""")]
    [InlineData("""{"metadata":{"team":"a","nested":{"list":[1,"x",null,{"b":true}]}}}""")]
    [InlineData("""{"project_id":"prj_x","allowed_cidrs":["10.0.0.0/8"]}""")]
    public void ABodyThatFitsTheRequestPasses(string body) =>
        Assert.Null(RequestShape.CheckBody(Utf8(body), CreateKeyRequest.Descriptor));

    [Theory]
    [InlineData("""{"name": """, "The body is not valid JSON (line 1, byte 10).")]
    [InlineData("""{"name": "k",}""", "The body is not valid JSON (line 1, byte 14).")]
    [InlineData("", "The body is empty: send a JSON object ({} when there is nothing to set).")]
    [InlineData("  \n", "The body is empty: send a JSON object ({} when there is nothing to set).")]
    [InlineData("[]", "The body must be a JSON object.")]
    [InlineData("\"name\"", "The body must be a JSON object.")]
    public void ABodyThatIsNotAJsonObjectIsMalformedJson(string body, string message)
    {
        var refusal = RequestShape.CheckBody(Utf8(body), CreateKeyRequest.Descriptor);

        Assert.NotNull(refusal);
        Assert.Equal((400, ErrorCatalog.MalformedJson, message), (refusal.HttpStatus, refusal.Reason, refusal.Message));
    }

    [Fact]
    public void AMisspeltFieldIsNamedWithTheFieldsThereAre()
    {
        var refusal = RequestShape.CheckBody(Utf8("""{"name":"k","rateLimit":{"limit":5,"windowSecond":60}}"""), CreateKeyRequest.Descriptor);

        Assert.NotNull(refusal);
        Assert.Equal(ErrorCatalog.MalformedJson, refusal.Reason);
        Assert.Equal("rateLimit has no field 'windowSecond'; its fields are limit, windowSeconds, mode.", refusal.Message);
        Assert.Equal("rateLimit.windowSecond", refusal.Metadata!["field"]);
    }

    [Fact]
    public void AFieldNamedLikeAKeyOrLongerThanAnyFieldIsRefusedWithoutBeingEchoed()
    {
        foreach (var name in new[] { PastedKey, "x" + new string('a', 40), "<script>alert(1)</script>" })
        {
            var refusal = RequestShape.CheckBody(Utf8($$"""{"{{name}}":1}"""), RollKeyRequest.Descriptor);

            Assert.NotNull(refusal);
            Assert.Equal(ErrorCatalog.MalformedJson, refusal.Reason);
            Assert.DoesNotContain(name, refusal.Message, StringComparison.Ordinal);
            Assert.Null(refusal.Metadata);
        }
    }

    [Theory]
    [InlineData("""{"name":12}""", "name must be a string.")]
    [InlineData("""{"gracePeriodSeconds":"5"}""", "gracePeriodSeconds must be a whole number from -2147483648 to 2147483647.")]
    [InlineData("""{"gracePeriodSeconds":1.5}""", "gracePeriodSeconds must be a whole number from -2147483648 to 2147483647.")]
    [InlineData("""{"gracePeriodSeconds":99999999999}""", "gracePeriodSeconds must be a whole number from -2147483648 to 2147483647.")]
    [InlineData("""{"expiresAt":"tomorrow"}""", "expiresAt must be an RFC 3339 time in UTC, such as 2030-01-31T12:00:00Z.")]
    [InlineData("""{"expiresAt":1893456000}""", "expiresAt must be an RFC 3339 time in UTC, such as 2030-01-31T12:00:00Z.")]
    public void AValueOfTheWrongTypeNamesItsFieldAndWhatItTakes(string body, string message)
    {
        var refusal = RequestShape.CheckBody(Utf8(body), body.Contains("name", StringComparison.Ordinal) ? CreateProjectRequest.Descriptor : RollKeyRequest.Descriptor);

        Assert.NotNull(refusal);
        Assert.Equal((ErrorCatalog.MalformedJson, message), (refusal.Reason, refusal.Message));
    }

    [Theory]
    [InlineData("""{"scopes":null}""", "scopes must be an array of strings.")]
    [InlineData("""{"scopes":"posts:read"}""", "scopes must be an array of strings.")]
    [InlineData("""{"scopes":["posts:read",null]}""", "scopes[1] must be a string.")]
    [InlineData("""{"rateLimit":"100/s"}""", "rateLimit must be an object.")]
    [InlineData("""{"rateLimit":{"limit":"many"}}""", "rateLimit.limit must be a whole number.")]
    [InlineData("""{"metadata":"team=a"}""", "metadata must be a JSON object.")]
    public void ListsAndObjectsAreCheckedThroughout(string body, string message)
    {
        var refusal = RequestShape.CheckBody(Utf8(body), CreateKeyRequest.Descriptor);

        Assert.NotNull(refusal);
        Assert.Equal(message, refusal.Message);
    }

    /// <summary>
    /// JSON transcoding's own message for a bad time is "Invalid Timestamp value: &lt;the value&gt;", logged as well:
    /// a key pasted into expiresAt would reach the log. Refused here first, it reaches neither.
    /// </summary>
    [Fact]
    public void AKeyPastedIntoAValueIsNeverEchoed()
    {
        foreach (var body in new[] { $$"""{"expiresAt":"{{PastedKey}}"}""", $$"""{"gracePeriodSeconds":"{{PastedKey}}"}""", $$"""{"scopes":"{{PastedKey}}"}""" })
        {
            var refusal = RequestShape.CheckBody(Utf8(body), RollKeyRequest.Descriptor) ?? RequestShape.CheckBody(Utf8(body), CreateKeyRequest.Descriptor);

            Assert.NotNull(refusal);
            Assert.DoesNotContain(PastedKey[3..], refusal.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(PastedKey[3..], string.Concat(refusal.Metadata?.Values ?? []), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void NestingPastTheLimitIsRefused()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200);

        var refusal = RequestShape.CheckBody(Utf8($$"""{"metadata":{{deep}}}"""), CreateKeyRequest.Descriptor);

        Assert.NotNull(refusal);
        Assert.Equal(ErrorCatalog.MalformedJson, refusal.Reason);
    }

    [Theory]
    [InlineData("pageSize", "abc", "INVALID_PAGE_SIZE")]
    [InlineData("page_size", "1.5", "INVALID_PAGE_SIZE")]
    [InlineData("pageSize", "99999999999", "INVALID_PAGE_SIZE")]
    public void AQueryValueOfTheWrongTypeGetsItsFieldsReason(string name, string value, string reason)
    {
        var refusal = RequestShape.CheckQuery(Query((name, value)), ListKeysRequest.Descriptor, _ => false);

        Assert.NotNull(refusal);
        Assert.Equal((400, reason, "pageSize must be a whole number from -2147483648 to 2147483647."), (refusal.HttpStatus, refusal.Reason, refusal.Message));
        Assert.DoesNotContain(value, refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AQueryFieldGivenTwiceIsRefusedAndAListMayBe()
    {
        var twice = RequestShape.CheckQuery([new("limit", new StringValues(["1", "2"]))], ListAuditEventsRequest.Descriptor, _ => false);

        Assert.NotNull(twice);
        Assert.Equal(("INVALID_LIMIT", "limit takes one value in the query string."), (twice.Reason, twice.Message));
        Assert.Null(RequestShape.CheckQuery([new("scopes", new StringValues(["a:read", "b:read"]))], CreateKeyRequest.Descriptor, _ => false));
    }

    [Fact]
    public void UpdateMasksInTheQueryAreFieldNames()
    {
        Assert.Null(RequestShape.CheckQuery(Query(("updateMask", "name,rateLimit,allowed_cidrs")), UpdateKeyRequest.Descriptor, _ => false));

        var refusal = RequestShape.CheckQuery(Query(("updateMask", "name;drop")), UpdateKeyRequest.Descriptor, _ => false);

        Assert.NotNull(refusal);
        Assert.Equal("INVALID_UPDATE_MASK", refusal.Reason);
    }

    [Fact]
    public void QueryParametersTheTranscoderIgnoresAreIgnored()
    {
        // Unknown names, and names the route or the body supplies.
        Assert.Null(RequestShape.CheckQuery(Query(("cacheBust", "x"), ("pageSize", "10"), ("q", PastedKey)), ListKeysRequest.Descriptor, _ => false));
        Assert.Null(RequestShape.CheckQuery(Query(("pageSize", "abc")), ListKeysRequest.Descriptor, name => name == "pageSize"));
    }

    private static ReadOnlyMemory<byte> Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static KeyValuePair<string, StringValues>[] Query(params (string Name, string Value)[] pairs) =>
        [.. pairs.Select(p => new KeyValuePair<string, StringValues>(p.Name, p.Value))];
}
