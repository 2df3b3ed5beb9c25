using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.AspNetCore.Invalidation;
using Keys.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// The ApiKey scheme end to end, as a service adopting the library uses it (<c>AddAuthentication(…).AddApiKey()</c>,
/// <c>RequireScope</c>, a scope as a policy name), on an in-process test server. KeyValidation is a fake; the
/// invalidation stream is not started, so the near cache stays disconnected and every well-formed key is looked up.
/// </summary>
public sealed class ApiKeyAuthenticationTests : IAsyncLifetime
{
    private const int InvalidKeyLimit = 3;

    private readonly FakeKeyValidation _validation = new();
    private readonly ConcurrentDictionary<string, ValidateResponse> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _checks = new(StringComparer.Ordinal);
    private readonly string _reader = KeyString.Generate(ApiKeyType.Secret);
    private readonly string _publishable = KeyString.Generate(ApiKeyType.Publishable);
    private readonly string _limited = KeyString.Generate(ApiKeyType.Secret);
    private readonly string _shared = KeyString.Generate(ApiKeyType.Secret);

    // Twenty seconds into a minute: rate-limit windows of 60 s have 40 s to go.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_020));
    private long _budgetUsed;
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private MeterListener? _listener;

    public async Task InitializeAsync()
    {
        _answers[_reader] = Valid(ApiKeyType.Secret, "orders:read");
        _answers[_publishable] = Valid(ApiKeyType.Publishable);
        _answers[_limited] = Limited(Valid(ApiKeyType.Secret), RateLimitMode.Local, limit: 3);
        _answers[_shared] = Limited(Valid(ApiKeyType.Secret), RateLimitMode.Global, limit: 3);
        // KeyValidation's shared counter, for the global limit: min(requested, limit - used).
        _validation.OnAcquire = (request, _) =>
        {
            var granted = Math.Max(0, Math.Min(request.Requested, request.Limit - Interlocked.Read(ref _budgetUsed)));
            return Task.FromResult(new AcquireRateBudgetResponse { Granted = granted, Used = Interlocked.Add(ref _budgetUsed, granted) });
        };
        _validation.OnCall = call => call.Answer(
            _answers.TryGetValue(call.Request.Key, out var answer) ? answer : new ValidateResponse { Outcome = ValidationOutcome.NotFound });

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ServiceAuth:Token"] = "a-service-token-of-at-least-32-characters",
            ["ApiKeys:InvalidKeyLimit"] = InvalidKeyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddAuthentication(ApiKeyDefaults.AuthenticationScheme).AddApiKey();

        // The client AddGrpcClient registered is replaced (the last registration wins), and the Watch stream, which this
        // fake does not play, is not followed.
        builder.Services.AddSingleton(_validation.Client);
        builder.Services.Remove(builder.Services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(InvalidationWatcher)));

        _app = builder.Build();
        // The test server has no client address: a test names one, as a trusted proxy would.
        _app.Use((context, next) =>
        {
            if (context.Request.Headers.TryGetValue("X-Test-Client", out var client))
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(client!);
            }

            return next(context);
        });
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapGet("/read", Who).RequireScope("orders:read");
        _app.MapGet("/create", Who).RequireScope("orders:create");
        _app.MapGet("/policy", Who).RequireAuthorization("orders:read");
        _app.MapGet("/any-key", Who).RequireAuthorization();
        _app.MapGet("/anonymous", Who);
        _app.MapPost("/keys.v1.Orders/GetOrder", Who).RequireScope("orders:read");
        await _app.StartAsync();
        _http = _app.GetTestClient();
        CountChecks(_app.Services.GetRequiredService<IMeterFactory>());
    }

    public async Task DisposeAsync()
    {
        _listener?.Dispose();
        _http.Dispose();
        await _app.DisposeAsync();
    }

    // --- Refused before any lookup ---

    [Fact]
    public async Task NoKeyIsA401SayingToSendOne()
    {
        using var response = await _http.GetAsync("/read");

        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED", ApiKeyRefusal.MissingKey.Message);
    }

    [Fact]
    public async Task GarbageIsA401InvalidTokenWithoutAnyLookup()
    {
        using var response = await SendAsync("/read", "not-an-api-key");

        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "INVALID_TOKEN", ApiKeyRefusal.InvalidKey.Message);
        Assert.Equal(0, _validation.ValidateCalls);
    }

    [Fact]
    public async Task GarbageFromOneClientIsA429OnceItsPermitsAreSpent()
    {
        for (var i = 0; i < InvalidKeyLimit; i++)
        {
            using var refused = await SendAsync("/read", "not-an-api-key");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var response = await SendAsync("/read", "not-an-api-key");

        await AssertRefusedAsync(response, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        Assert.Equal("10", response.Headers.RetryAfter?.ToString());
    }

    [Fact]
    public async Task SecretKeyFromABrowserIsRefusedAsSuchWithoutAnyLookup()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/read");
        request.Headers.Add(ApiKeyDefaults.HeaderName, _reader);
        request.Headers.Add("Sec-Fetch-Mode", "cors");

        using var response = await _http.SendAsync(request);

        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "SECRET_KEY_IN_BROWSER");
        Assert.Equal(0, _validation.ValidateCalls);
    }

    // --- A key looked up ---

    [Fact]
    public async Task KeyWhoseScopeAllowsTheEndpointPassesAndTheEndpointSeesWhoCalled()
    {
        using var response = await SendAsync("/read", _reader);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("key_reader|prj_0123456789abcdefghij|production|Secret|orders:read", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, _validation.ValidateCalls);
    }

    [Fact]
    public async Task ScopeNamedAsAPolicyIsThatScopesPolicyWithoutRegisteringIt()
    {
        using var allowed = await SendAsync("/policy", _reader);
        _answers[_reader] = Valid(ApiKeyType.Secret, "orders:create");
        using var refused = await SendAsync("/policy", _reader);

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        await AssertRefusedAsync(refused, HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT", ApiKeyRefusal.ScopeInsufficient.Message);
    }

    [Fact]
    public async Task KeyWhoseScopesDoNotAllowTheEndpointIsA403ScopeInsufficient()
    {
        using var response = await SendAsync("/create", _reader);

        await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT", ApiKeyRefusal.ScopeInsufficient.Message);
    }

    [Fact]
    public async Task PublishableKeyWithoutScopesReadsButIsTold403ThatItMayOnlyReadWhenItWrites()
    {
        using var read = await SendAsync("/read", _publishable);
        using var create = await SendAsync("/create", _publishable);

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("key_reader|prj_0123456789abcdefghij|production|Publishable|", await read.Content.ReadAsStringAsync());
        await AssertRefusedAsync(create, HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT", ApiKeyRefusal.PublishableKeyReadOnly.Message);
    }

    [Fact]
    public async Task EndpointNeedingOnlyAnAuthenticatedCallerTakesAnyValidKeyAndRefusesUnknownOnes()
    {
        using var valid = await SendAsync("/any-key", _publishable);
        using var unknown = await SendAsync("/any-key", KeyString.Generate(ApiKeyType.Secret));

        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        await AssertRefusedAsync(unknown, HttpStatusCode.Unauthorized, "INVALID_TOKEN");
    }

    [Fact]
    public async Task KeyValidationUnavailableIsA503ToRetryShortly()
    {
        _validation.OnCall = call => call.Fail(StatusCode.Unavailable);

        using var response = await SendAsync("/read", _reader);

        await AssertRefusedAsync(response, HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE", ApiKeyRefusal.ValidationUnavailable.Message);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
    }

    [Fact]
    public async Task KeyDeletedSinceItWasLookedUpIsA401TokenRevoked()
    {
        _answers[_reader] = new ValidateResponse { Outcome = ValidationOutcome.Revoked };

        using var response = await SendAsync("/read", _reader);

        await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "TOKEN_REVOKED");
    }

    // --- A disabled key, and where a key may be used from ---

    [Fact]
    public async Task DisabledKeyIsA401TokenDisabledAndGivesItsPermitBack()
    {
        _answers[_reader] = Disabled(Valid(ApiKeyType.Secret, "orders:read"));

        for (var i = 0; i < InvalidKeyLimit + 1; i++)
        {
            using var response = await SendAsync("/read", _reader);
            await AssertRefusedAsync(response, HttpStatusCode.Unauthorized, "TOKEN_DISABLED", ApiKeyRefusal.DisabledKey.Message);
        }
    }

    [Theory]
    [InlineData("10.1.2.3", HttpStatusCode.OK)]
    [InlineData("::ffff:10.1.2.3", HttpStatusCode.OK)]
    [InlineData("2001:db8:1::9", HttpStatusCode.OK)]
    [InlineData("10.2.0.1", HttpStatusCode.Forbidden)]
    [InlineData("2001:db8:2::9", HttpStatusCode.Forbidden)]
    public async Task SecretKeyWithNetworksIsServedOnlyFromThemAndRefused403IpNotAllowedElsewhere(string client, HttpStatusCode status)
    {
        var answer = Valid(ApiKeyType.Secret, "orders:read");
        answer.AllowedCidrs.Add(["10.1.0.0/16", "2001:db8:1::/48"]);
        _answers[_reader] = answer;

        using var request = new HttpRequestMessage(HttpMethod.Get, "/read");
        request.Headers.Add(ApiKeyDefaults.HeaderName, _reader);
        request.Headers.Add("X-Test-Client", client);
        using var response = await _http.SendAsync(request);

        if (status == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        else
        {
            await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "IP_NOT_ALLOWED", ApiKeyRefusal.IpNotAllowed.Message);
        }
    }

    [Theory]
    [InlineData("https://app.example.com", HttpStatusCode.OK)]
    [InlineData("https://evil.example.com", HttpStatusCode.Forbidden)]
    [InlineData(null, HttpStatusCode.Forbidden)]
    public async Task PublishableKeyWithOriginsIsServedOnlyWithOneOfThemAndRefused403OriginNotAllowedOtherwise(string? origin, HttpStatusCode status)
    {
        var answer = Valid(ApiKeyType.Publishable);
        answer.AllowedOrigins.Add("https://app.example.com");
        _answers[_publishable] = answer;

        using var request = new HttpRequestMessage(HttpMethod.Get, "/read");
        request.Headers.Add(ApiKeyDefaults.HeaderName, _publishable);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        using var response = await _http.SendAsync(request);

        if (status == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        else
        {
            await AssertRefusedAsync(response, HttpStatusCode.Forbidden, "ORIGIN_NOT_ALLOWED", ApiKeyRefusal.OriginNotAllowed.Message);
        }
    }

    // --- Rate limits ---

    [Fact]
    public async Task KeyWithoutALimitGetsNoRateLimitHeaders()
    {
        using var response = await SendAsync("/read", _reader);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("RateLimit"));
        Assert.False(response.Headers.Contains("RateLimit-Policy"));
    }

    [Fact]
    public async Task LocallyLimitedKeyPassesItsLimitWithTheHeadersThenIs429RateLimitedWithRetryAfterAndTheHeaders()
    {
        var remaining = new List<string?>();
        for (var i = 0; i < 3; i++)
        {
            using var passed = await SendAsync("/read", _limited);
            Assert.Equal(HttpStatusCode.OK, passed.StatusCode);
            Assert.Equal("\"key\";q=3;w=60", Header(passed, "RateLimit-Policy"));
            remaining.Add(Header(passed, "RateLimit"));
        }

        using var limited = await SendAsync("/read", _limited);

        Assert.Equal(["\"key\";r=2;t=40", "\"key\";r=1;t=40", "\"key\";r=0;t=40"], remaining);
        await AssertRefusedAsync(limited, HttpStatusCode.TooManyRequests, "RATE_LIMITED", ApiKeyRefusal.RateLimited.Message);
        Assert.Equal("40", limited.Headers.RetryAfter?.ToString());
        Assert.Equal("\"key\";q=3;w=60", Header(limited, "RateLimit-Policy"));
        Assert.Equal("\"key\";r=0;t=40", Header(limited, "RateLimit"));
    }

    [Fact]
    public async Task LimitStartsAfreshInTheNextWindow()
    {
        for (var i = 0; i < 4; i++)
        {
            (await SendAsync("/read", _limited)).Dispose();
        }

        _time.Advance(TimeSpan.FromSeconds(40));
        using var response = await SendAsync("/read", _limited);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"key\";r=2;t=60", Header(response, "RateLimit"));
    }

    [Fact]
    public async Task RequestsRefusedForTheirScopeOrServedAnonymouslySpendNothingOfTheLimit()
    {
        for (var i = 0; i < 5; i++)
        {
            (await SendAsync("/create", _publishable)).Dispose();
            (await SendAsync("/anonymous", _limited)).Dispose();
        }

        _answers[_limited] = Limited(Valid(ApiKeyType.Secret, "orders:read"), RateLimitMode.Local, limit: 3);
        for (var i = 0; i < 3; i++)
        {
            (await SendAsync("/create", _limited)).Dispose();
        }

        using var response = await SendAsync("/read", _limited);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"key\";r=2;t=40", Header(response, "RateLimit"));
    }

    [Fact]
    public async Task GloballyLimitedKeySpendsBudgetLeasedFromKeyValidationThenIs429()
    {
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await SendAsync("/read", _shared);
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(3, Interlocked.Read(ref _budgetUsed));
        Assert.InRange(_validation.AcquireCalls, 1, 3);
    }

    [Fact]
    public async Task GloballyLimitedKeyIsA503WhenNoBudgetCanBeLeasedNeverAPass()
    {
        _validation.OnAcquire = (_, _) => Task.FromException<AcquireRateBudgetResponse>(new RpcException(new Status(StatusCode.Unavailable, "down")));

        using var response = await SendAsync("/read", _shared);

        await AssertRefusedAsync(response, HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
    }

    // --- Endpoints that need no key ---

    [Fact]
    public async Task AnonymousEndpointIsServedWhateverKeyIsSentAndSeesNoCaller()
    {
        using var garbage = await SendAsync("/anonymous", "not-an-api-key");
        using var none = await _http.GetAsync("/anonymous");

        Assert.Equal(HttpStatusCode.OK, garbage.StatusCode);
        Assert.Equal("none", await garbage.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
    }

    // --- gRPC ---

    [Fact]
    public async Task GrpcCallWithoutAKeyIsTrailersOnlyUnauthenticated()
    {
        using var response = await SendGrpcAsync(key: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("16", Header(response, "grpc-status"));
        Assert.Equal("UNAUTHORIZED", ReasonOf(response));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GrpcCallWhoseKeyLacksTheScopeIsPermissionDeniedWithTheReason()
    {
        _answers[_reader] = Valid(ApiKeyType.Secret, "orders:create");

        using var response = await SendGrpcAsync(_reader);

        Assert.Equal("7", Header(response, "grpc-status"));
        Assert.Equal("SCOPE_INSUFFICIENT", ReasonOf(response));
    }

    [Fact]
    public async Task GrpcCallWithAKeyThatAllowsItReachesTheMethod()
    {
        using var response = await SendGrpcAsync(_reader);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("grpc-status"));
        Assert.StartsWith("key_reader|", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcCallWithADisabledKeyIsUnauthenticatedWithReasonTokenDisabled()
    {
        _answers[_reader] = Disabled(Valid(ApiKeyType.Secret, "orders:read"));

        using var response = await SendGrpcAsync(_reader);

        Assert.Equal("16", Header(response, "grpc-status"));
        Assert.Equal("TOKEN_DISABLED", ReasonOf(response));
    }

    [Fact]
    public async Task GrpcCallsOfALimitedKeyCarryTheRateLimitHeadersAndPastTheLimitAreResourceExhaustedRateLimited()
    {
        _answers[_limited] = Limited(Valid(ApiKeyType.Secret, "orders:read"), RateLimitMode.Local, limit: 1);

        using var passed = await SendGrpcAsync(_limited);
        using var limited = await SendGrpcAsync(_limited);

        Assert.StartsWith("key_reader|", await passed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(("\"key\";q=1;w=60", "\"key\";r=0;t=40"), (Header(passed, "RateLimit-Policy"), Header(passed, "RateLimit")));
        Assert.Equal(HttpStatusCode.OK, limited.StatusCode);
        Assert.Equal("8", Header(limited, "grpc-status"));
        Assert.Equal("RATE_LIMITED", ReasonOf(limited));
        Assert.Equal(("\"key\";q=1;w=60", "\"key\";r=0;t=40"), (Header(limited, "RateLimit-Policy"), Header(limited, "RateLimit")));
    }

    // --- Metrics ---

    [Fact]
    public async Task EachCheckedRequestIsCountedOnceWithItsOutcome()
    {
        (await SendAsync("/read", _reader)).Dispose();
        (await SendAsync("/create", _reader)).Dispose();
        (await _http.GetAsync("/read")).Dispose();
        (await SendAsync("/read", "not-an-api-key")).Dispose();
        (await SendAsync("/anonymous", _reader)).Dispose();
        _answers[_limited] = Limited(Valid(ApiKeyType.Secret), RateLimitMode.Local, limit: 1);
        (await SendAsync("/read", _limited)).Dispose();
        (await SendAsync("/read", _limited)).Dispose();
        _answers[_publishable] = Disabled(Valid(ApiKeyType.Publishable));
        (await SendAsync("/read", _publishable)).Dispose();

        // The anonymous endpoint checked nothing: its key was authenticated, but nothing was decided on it.
        _listener!.RecordObservableInstruments();
        Assert.Equal(
            new Dictionary<string, long>
            {
                ["ok"] = 2,
                ["SCOPE_INSUFFICIENT"] = 1,
                ["UNAUTHORIZED"] = 1,
                ["INVALID_TOKEN"] = 1,
                ["RATE_LIMITED"] = 1,
                ["TOKEN_DISABLED"] = 1,
            },
            _checks.Where(c => c.Value > 0).ToDictionary());
    }

    private static string Who(HttpContext http) =>
        http.User.GetApiKey() is { } key
            ? $"{key.KeyId}|{key.ProjectId}|{key.Environment}|{key.Type}|{string.Join(',', key.Scopes)}"
            : "none";

    private static ValidateResponse Valid(ApiKeyType type, params string[] scopes)
    {
        var response = new ValidateResponse
        {
            Outcome = ValidationOutcome.Valid,
            KeyId = "key_reader",
            ProjectId = "prj_0123456789abcdefghij",
            Environment = "production",
            Type = type == ApiKeyType.Secret ? KeyType.Secret : KeyType.Publishable,
        };
        response.Scopes.Add(scopes);
        return response;
    }

    private static ValidateResponse Disabled(ValidateResponse answer)
    {
        answer.Outcome = ValidationOutcome.Disabled;
        return answer;
    }

    private static ValidateResponse Limited(ValidateResponse answer, RateLimitMode mode, long limit)
    {
        answer.RateLimit = new RateLimitRule { Limit = limit, WindowSeconds = 60, Mode = mode };
        return answer;
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string error, string? message = null)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)status, body.RootElement.GetProperty("statusCode").GetInt32());
        Assert.Equal(error, body.RootElement.GetProperty("error").GetString());
        if (message is not null)
        {
            Assert.Equal(message, body.RootElement.GetProperty("message").GetString());
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static string ReasonOf(HttpResponseMessage response)
    {
        var status = Google.Rpc.Status.Parser.ParseFrom(Convert.FromBase64String(Header(response, "grpc-status-details-bin")!));
        return Assert.Single(status.Details).Unpack<Google.Rpc.ErrorInfo>().Reason;
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add(ApiKeyDefaults.HeaderName, key);
        return await _http.SendAsync(request);
    }

    private async Task<HttpResponseMessage> SendGrpcAsync(string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/keys.v1.Orders/GetOrder")
        {
            // An empty message in gRPC's framing: not compressed, length 0.
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
            // gRPC is HTTP/2 (the test server reports the version asked for as the request's protocol).
            Version = HttpVersion.Version20,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.Add("TE", "trailers");
        if (key is not null)
        {
            request.Headers.Add("x-api-key", key);
        }

        return await _http.SendAsync(request);
    }

    private void CountChecks(IMeterFactory meters)
    {
        // This app's meter only: other tests create meters of the same name at the same time.
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == meters && instrument.Name == "keys.api_key.checks")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        // Observable counters: each collection reports every outcome's total so far.
        _listener.SetMeasurementEventCallback<long>((_, total, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "outcome")
                {
                    _checks[(string)tag.Value!] = total;
                }
            }
        });
        _listener.Start();
    }
}
