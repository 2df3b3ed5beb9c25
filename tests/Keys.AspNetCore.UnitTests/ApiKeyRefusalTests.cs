using System.Text;
using System.Text.Json;
using Google.Rpc;
using Microsoft.AspNetCore.Http;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// A refusal on the wire: over HTTP a JSON body with its status (and Retry-After when waiting helps); over gRPC a
/// trailers-only answer whose status, message and <c>google.rpc.ErrorInfo</c> any gRPC client can read.
/// </summary>
public sealed class ApiKeyRefusalTests
{
    public static TheoryData<string> Refusals => [.. RefusalsByName.Keys];

    private static Dictionary<string, ApiKeyRefusal> RefusalsByName => new()
    {
        [nameof(ApiKeyRefusal.MissingKey)] = ApiKeyRefusal.MissingKey,
        [nameof(ApiKeyRefusal.InvalidKey)] = ApiKeyRefusal.InvalidKey,
        [nameof(ApiKeyRefusal.AmbiguousKey)] = ApiKeyRefusal.AmbiguousKey,
        [nameof(ApiKeyRefusal.ExpiredKey)] = ApiKeyRefusal.ExpiredKey,
        [nameof(ApiKeyRefusal.RevokedKey)] = ApiKeyRefusal.RevokedKey,
        [nameof(ApiKeyRefusal.ScopeInsufficient)] = ApiKeyRefusal.ScopeInsufficient,
        [nameof(ApiKeyRefusal.PublishableKeyReadOnly)] = ApiKeyRefusal.PublishableKeyReadOnly,
        [nameof(ApiKeyRefusal.PermissionDenied)] = ApiKeyRefusal.PermissionDenied,
        [nameof(ApiKeyRefusal.SecretKeyInBrowser)] = ApiKeyRefusal.SecretKeyInBrowser,
        [nameof(ApiKeyRefusal.ValidationUnavailable)] = ApiKeyRefusal.ValidationUnavailable,
        [nameof(ApiKeyRefusal.TooManyInvalidKeys)] = ApiKeyRefusal.TooManyInvalidKeys(10),
        [nameof(ApiKeyRefusal.DisabledKey)] = ApiKeyRefusal.DisabledKey,
        [nameof(ApiKeyRefusal.IpNotAllowed)] = ApiKeyRefusal.IpNotAllowed,
        [nameof(ApiKeyRefusal.OriginNotAllowed)] = ApiKeyRefusal.OriginNotAllowed,
        [nameof(ApiKeyRefusal.RateLimited)] = ApiKeyRefusal.RateLimited.WithRateLimit(17, "\"key\";q=100;w=60", "\"key\";r=0;t=17"),
    };

    // --- Over gRPC ---

    [Theory]
    [InlineData(nameof(ApiKeyRefusal.MissingKey), 16)]
    [InlineData(nameof(ApiKeyRefusal.InvalidKey), 16)]
    [InlineData(nameof(ApiKeyRefusal.RevokedKey), 16)]
    [InlineData(nameof(ApiKeyRefusal.ScopeInsufficient), 7)]
    [InlineData(nameof(ApiKeyRefusal.SecretKeyInBrowser), 7)]
    [InlineData(nameof(ApiKeyRefusal.TooManyInvalidKeys), 8)]
    [InlineData(nameof(ApiKeyRefusal.ValidationUnavailable), 14)]
    [InlineData(nameof(ApiKeyRefusal.DisabledKey), 16)]
    [InlineData(nameof(ApiKeyRefusal.IpNotAllowed), 7)]
    [InlineData(nameof(ApiKeyRefusal.OriginNotAllowed), 7)]
    [InlineData(nameof(ApiKeyRefusal.RateLimited), 8)]
    public async Task OverGrpcTheRefusalIsATrailersOnlyAnswerWithItsStatusCode(string name, int grpcStatus)
    {
        var refusal = RefusalsByName[name];
        var context = Request("application/grpc");

        await refusal.WriteAsync(context);

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("application/grpc", context.Response.ContentType);
        Assert.Equal(grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture), context.Response.Headers["grpc-status"].ToString());
        Assert.Equal(grpcStatus, (int)refusal.GrpcStatusCode);
        Assert.Equal(0, context.Response.Body.Length);
        Assert.False(context.Response.Headers.ContainsKey("Retry-After"));
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task OverGrpcTheStatusDetailsCarryTheCodeMessageAndOneErrorInfoWithTheRefusalsReason(string name)
    {
        var refusal = RefusalsByName[name];
        var context = Request("application/grpc");

        await refusal.WriteAsync(context);

        var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(context.Response.Headers["grpc-status-details-bin"].ToString()));
        Assert.Equal((int)refusal.GrpcStatusCode, status.Code);
        Assert.Equal(context.Response.Headers["grpc-status"].ToString(), status.Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(refusal.Message, status.Message);
        var detail = Assert.Single(status.Details);
        Assert.True(detail.Is(ErrorInfo.Descriptor));
        var info = detail.Unpack<ErrorInfo>();
        Assert.Equal((refusal.Error, "keys.v1"), (info.Reason, info.Domain));
        Assert.Empty(info.Metadata);
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task OverGrpcTheMessageIsPercentEncodedAsciiThatDecodesToTheMessage(string name)
    {
        var refusal = RefusalsByName[name];
        var context = Request("application/grpc");

        await refusal.WriteAsync(context);

        var message = context.Response.Headers["grpc-message"].ToString();
        Assert.All(message, c => Assert.InRange(c, ' ', '~'));
        Assert.Equal(refusal.Message, Uri.UnescapeDataString(message));
    }

    [Fact]
    public async Task OverGrpcNonAsciiAndPercentSignsInTheMessageArePercentEncodedUtf8()
    {
        var context = Request("application/grpc");

        await ApiKeyRefusal.SecretKeyInBrowser.WriteAsync(context);
        Assert.Contains("(pk_%E2%80%A6)", context.Response.Headers["grpc-message"].ToString(), StringComparison.Ordinal);

        await new ApiKeyRefusal(403, "QUOTA", "100% used: naïve.").WriteAsync(context);
        Assert.Equal("100%25 used: na%C3%AFve.", context.Response.Headers["grpc-message"].ToString());
    }

    [Theory]
    [InlineData("application/grpc+proto")]
    [InlineData("Application/GRPC")]
    public async Task AnyGrpcContentTypeIsAnsweredAsGrpc(string contentType)
    {
        var context = Request(contentType);

        await ApiKeyRefusal.MissingKey.WriteAsync(context);

        Assert.Equal("16", context.Response.Headers["grpc-status"].ToString());
        Assert.Equal(0, context.Response.Body.Length);
    }

    [Theory]
    [InlineData("application/grpc-web")]
    [InlineData("application/grpc-web+proto")]
    [InlineData("application/grpc-web-text")]
    public async Task GrpcWebIsAnsweredAsJsonBecauseItsTrailersTravelInTheBodyThatATrailersOnlyAnswerLacks(string contentType)
    {
        // A grpc-web client reads the status from a trailer frame in the body (browsers cannot read HTTP trailers), so
        // grpc-status headers alone would leave it without one; JSON with the HTTP status is what it can report.
        var context = Request(contentType);

        await ApiKeyRefusal.MissingKey.WriteAsync(context);

        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("application/json", context.Response.ContentType);
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
    }

    [Theory]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/1.0")]
    public async Task AnHttp1RequestClaimingToBeGrpcGetsTheJsonRefusalNotA200(string protocol)
    {
        // gRPC needs HTTP/2: over HTTP/1.1 a trailers-only answer would be a bare 200, which a cache or a careless
        // client could take for a success.
        var context = Request("application/grpc", protocol);

        await ApiKeyRefusal.InvalidKey.WriteAsync(context);

        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("application/json", context.Response.ContentType);
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
    }

    // --- Over HTTP ---

    [Fact]
    public async Task OverHttpTheRefusalIsItsStatusAndExactlyThisJsonBody()
    {
        var context = Request(null);

        await ApiKeyRefusal.MissingKey.WriteAsync(context);

        Assert.Equal(401, context.Response.StatusCode);
        Assert.Equal("application/json", context.Response.ContentType);
        Assert.Equal("""{"statusCode":401,"error":"UNAUTHORIZED","message":"Send your API key in the X-API-Key header."}""", Body(context));
        Assert.Equal(context.Response.Body.Length, context.Response.ContentLength);
        Assert.False(context.Response.Headers.ContainsKey("Retry-After"));
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task OverHttpTheBodyNamesTheStatusCodeAndMessageOfTheRefusal(string name)
    {
        var refusal = RefusalsByName[name];
        var context = Request("application/json");

        await refusal.WriteAsync(context);

        Assert.Equal(refusal.StatusCode, context.Response.StatusCode);
        using var body = JsonDocument.Parse(Body(context));
        Assert.Equal(["statusCode", "error", "message"], body.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(refusal.StatusCode, body.RootElement.GetProperty("statusCode").GetInt32());
        Assert.Equal(refusal.Error, body.RootElement.GetProperty("error").GetString());
        Assert.Equal(refusal.Message, body.RootElement.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(nameof(ApiKeyRefusal.TooManyInvalidKeys), "10")]
    [InlineData(nameof(ApiKeyRefusal.ValidationUnavailable), "1")]
    public async Task OverHttpA429OrA503SaysWhenToRetry(string name, string retryAfter)
    {
        var context = Request(null);

        await RefusalsByName[name].WriteAsync(context);

        Assert.Equal(retryAfter, context.Response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task OverHttpTheThrottlesRefusalIsA429TooManyRequests()
    {
        var context = Request(null);

        await ApiKeyRefusal.TooManyInvalidKeys(10).WriteAsync(context);

        Assert.Equal(429, context.Response.StatusCode);
        Assert.Equal(
            """{"statusCode":429,"error":"TOO_MANY_REQUESTS","message":"Too many invalid API keys from this address. Wait, then retry with a valid key."}""",
            Body(context));
    }

    // --- The rate limit's 429 ---

    [Theory]
    [InlineData(nameof(ApiKeyRefusal.DisabledKey), 401, "TOKEN_DISABLED")]
    [InlineData(nameof(ApiKeyRefusal.IpNotAllowed), 403, "IP_NOT_ALLOWED")]
    [InlineData(nameof(ApiKeyRefusal.OriginNotAllowed), 403, "ORIGIN_NOT_ALLOWED")]
    [InlineData(nameof(ApiKeyRefusal.RateLimited), 429, "RATE_LIMITED")]
    public void PolicyRefusalsHaveTheAgreedStatusAndCode(string name, int status, string code) =>
        Assert.Equal((status, code), (RefusalsByName[name].StatusCode, RefusalsByName[name].Error));

    [Fact]
    public async Task OverHttpTheRateLimitsRefusalCarriesRetryAfterAndBothRateLimitHeaders()
    {
        var context = Request(null);

        await ApiKeyRefusal.RateLimited.WithRateLimit(17, "\"key\";q=100;w=60", "\"key\";r=0;t=17").WriteAsync(context);

        Assert.Equal(429, context.Response.StatusCode);
        Assert.Equal("17", context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("\"key\";q=100;w=60", context.Response.Headers["RateLimit-Policy"].ToString());
        Assert.Equal("\"key\";r=0;t=17", context.Response.Headers["RateLimit"].ToString());
        using var body = JsonDocument.Parse(Body(context));
        Assert.Equal(
            (429, "RATE_LIMITED", ApiKeyRefusal.RateLimited.Message),
            (body.RootElement.GetProperty("statusCode").GetInt32(), body.RootElement.GetProperty("error").GetString(), body.RootElement.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task OverGrpcTheRateLimitsRefusalIsResourceExhaustedWithTheRateLimitHeadersAsMetadata()
    {
        var context = Request("application/grpc");

        await ApiKeyRefusal.RateLimited.WithRateLimit(3, "\"key\";q=5;w=10", "\"key\";r=0;t=3").WriteAsync(context);

        Assert.Equal("8", context.Response.Headers["grpc-status"].ToString());
        Assert.Equal("\"key\";q=5;w=10", context.Response.Headers["RateLimit-Policy"].ToString());
        Assert.Equal("\"key\";r=0;t=3", context.Response.Headers["RateLimit"].ToString());
    }

    [Fact]
    public void EachRequestsRateLimitRefusalSharesTheTemplatesBodyAndStatusAndLeavesTheTemplateAlone()
    {
        var one = ApiKeyRefusal.RateLimited.WithRateLimit(0, "p", "r");

        Assert.NotSame(ApiKeyRefusal.RateLimited, one);
        Assert.Equal((429, "RATE_LIMITED", ApiKeyRefusal.RateLimited.Message), (one.StatusCode, one.Error, one.Message));
        Assert.Equal(ApiKeyRefusal.RateLimited.GrpcStatusCode, one.GrpcStatusCode);
    }

    [Fact]
    public async Task RetryAfterOfTheRateLimitsRefusalIsAtLeastOneSecond()
    {
        var context = Request(null);

        await ApiKeyRefusal.RateLimited.WithRateLimit(0, "p", "r").WriteAsync(context);

        Assert.Equal("1", context.Response.Headers.RetryAfter.ToString());
    }

    private static DefaultHttpContext Request(string? contentType, string protocol = "HTTP/2")
    {
        var context = new DefaultHttpContext();
        context.Request.Protocol = protocol;
        context.Request.ContentType = contentType;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static string Body(HttpContext context) => Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
}
