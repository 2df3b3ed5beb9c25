using System.Diagnostics.Metrics;
using System.Net;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.AspNetCore;
using Keys.AspNetCore.Caching;
using Keys.AspNetCore.Diagnostics;
using Keys.AspNetCore.Invalidation;
using Keys.AspNetCore.RateLimiting;
using Keys.AspNetCore.Validation;
using Keys.Gateway.Authentication;
using Keys.V1;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Keys.Gateway.UnitTests;

/// <summary>
/// The gateway's answer to one request of a key with a policy: a disabled key, the allowlists (by the address the
/// connection or a trusted proxy names, and by Origin, answered with <c>Vary: Origin</c>), and the rate limit, counted
/// last and only for requests about to be proxied, with its headers on the proxied answer and on the 429. KeyValidation
/// is a fake that answers every lookup with the key the test describes; the clock is fake.
/// </summary>
public sealed class KeyAuthenticationMiddlewareTests : IDisposable
{
    private static readonly RouteModel AnyKey = new(new RouteConfig { RouteId = "any", Metadata = new Dictionary<string, string>() }, null, HttpTransformer.Empty);
    private static readonly RouteModel OrdersRoute = new(
        new RouteConfig { RouteId = "orders", Metadata = new Dictionary<string, string> { ["Scope"] = "orders" } }, null, HttpTransformer.Empty);

    // Twenty seconds into a minute: windows of 60 s reset in 40.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_020));
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly Validation _validation = new();
    private readonly KeyAuthenticationMiddleware _middleware;
    private readonly string _secret = KeyString.Generate(ApiKeyType.Secret);
    private readonly string _publishable = KeyString.Generate(ApiKeyType.Publishable);
    private int _proxied;

    public KeyAuthenticationMiddlewareTests()
    {
        var options = Options.Create(new ApiKeyValidationOptions());
        var meters = _services.GetRequiredService<IMeterFactory>();
        var cache = new NearCache(options, _time);
        var checks = new ApiKeyMetrics(meters, cache, new WatchStatus(_time));
        var client = new KeyValidationService.KeyValidationServiceClient(_validation);
        _middleware = new KeyAuthenticationMiddleware(
            new ApiKeyValidator(client, cache, _time, checks, options),
            new ApiKeyRateLimiter(client, _time, options, meters),
            new GatewayMetrics(meters, checks));
    }

    public void Dispose() => _services.Dispose();

    [Fact]
    public async Task DisabledKeyIs401TokenDisabledAndNeverProxied()
    {
        _validation.Answer = Key(outcome: ValidationOutcome.Disabled);

        var context = await SendAsync(_secret);

        Assert.Equal((401, 0), (context.Response.StatusCode, _proxied));
        Assert.Equal("TOKEN_DISABLED", ErrorOf(context));
    }

    [Theory]
    [InlineData("10.1.2.3", 200)]
    [InlineData("::ffff:10.1.2.3", 200)]
    [InlineData("10.9.9.9", 403)]
    public async Task SecretKeyWithNetworksIsProxiedFromThemAnd403IpNotAllowedFromElsewhere(string client, int status)
    {
        var key = Key();
        key.AllowedCidrs.Add("10.1.0.0/16");
        _validation.Answer = key;

        var context = await SendAsync(_secret, client: client);

        Assert.Equal(status, context.Response.StatusCode);
        if (status == 403)
        {
            Assert.Equal("IP_NOT_ALLOWED", ErrorOf(context));
        }
    }

    [Theory]
    [InlineData("https://app.example.com", 200)]
    [InlineData("https://other.example.com", 403)]
    [InlineData(null, 403)]
    public async Task PublishableKeyWithOriginsIsAnsweredByOriginAndVariesByIt(string? origin, int status)
    {
        var key = Key(KeyType.Publishable);
        key.AllowedOrigins.Add("https://app.example.com");
        _validation.Answer = key;

        var context = await SendAsync(_publishable, origin: origin);

        Assert.Equal(status, context.Response.StatusCode);
        Assert.Equal("X-API-Key,Origin", string.Join(",", context.Response.Headers.Vary.ToArray()));
        if (status == 403)
        {
            Assert.Equal("ORIGIN_NOT_ALLOWED", ErrorOf(context));
        }
    }

    [Fact]
    public async Task KeyWithoutOriginsDoesNotVaryByOriginNorCarryRateLimitHeaders()
    {
        _validation.Answer = Key();

        var context = await SendAsync(_secret);

        Assert.Equal(200, context.Response.StatusCode);
        Assert.Equal("X-API-Key", string.Join(",", context.Response.Headers.Vary.ToArray()));
        Assert.False(context.Response.Headers.ContainsKey("RateLimit"));
        Assert.False(context.Response.Headers.ContainsKey("RateLimit-Policy"));
    }

    [Fact]
    public async Task LimitedKeyIsProxiedWithTheRateLimitHeadersUpToItsLimitThen429WithRetryAfter()
    {
        _validation.Answer = Key(limit: 2);

        var first = await SendAsync(_secret);
        var second = await SendAsync(_secret);
        var third = await SendAsync(_secret);

        Assert.Equal((200, 200, 429, 2), (first.Response.StatusCode, second.Response.StatusCode, third.Response.StatusCode, _proxied));
        Assert.Equal("\"key\";q=2;w=60", first.Response.Headers["RateLimit-Policy"].ToString());
        Assert.Equal("\"key\";r=1;t=40", first.Response.Headers["RateLimit"].ToString());
        Assert.Equal("\"key\";r=0;t=40", second.Response.Headers["RateLimit"].ToString());
        Assert.Equal("RATE_LIMITED", ErrorOf(third));
        Assert.Equal("40", third.Response.Headers.RetryAfter.ToString());
        Assert.Equal("\"key\";q=2;w=60", third.Response.Headers["RateLimit-Policy"].ToString());
        Assert.Equal("\"key\";r=0;t=40", third.Response.Headers["RateLimit"].ToString());
    }

    [Fact]
    public async Task RequestsRefusedForTheRouteOrTheirAddressSpendNothingOfTheLimit()
    {
        var key = Key(limit: 1, scopes: "reports:read");
        key.AllowedCidrs.Add("10.1.0.0/16");
        _validation.Answer = key;

        var wrongScope = await SendAsync(_secret, route: OrdersRoute, client: "10.1.0.1");
        var wrongAddress = await SendAsync(_secret, route: OrdersRoute, client: "10.9.0.1");
        _validation.Answer = Key(limit: 1, scopes: "orders:read");
        _validation.Answer.AllowedCidrs.Add("10.1.0.0/16");
        var passed = await SendAsync(KeyString.Generate(ApiKeyType.Secret), route: OrdersRoute, client: "10.1.0.1");

        Assert.Equal(("SCOPE_INSUFFICIENT", "IP_NOT_ALLOWED"), (ErrorOf(wrongScope), ErrorOf(wrongAddress)));
        Assert.Equal(200, passed.Response.StatusCode);
    }

    private static ValidateResponse Key(KeyType type = KeyType.Secret, ValidationOutcome outcome = ValidationOutcome.Valid, long? limit = null, params string[] scopes)
    {
        var response = new ValidateResponse
        {
            Outcome = outcome,
            KeyId = "key_0123456789abcdefghijkl",
            ProjectId = "prj_0123456789abcdefghijkl",
            Environment = "prod",
            Type = type,
            Scopes = { scopes },
        };
        if (limit is { } l)
        {
            response.RateLimit = new RateLimitRule { Limit = l, WindowSeconds = 60, Mode = RateLimitMode.Local };
        }

        return response;
    }

    private async Task<HttpContext> SendAsync(string key, RouteModel? route = null, string? client = "203.0.113.7", string? origin = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers["X-API-Key"] = key;
        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        context.Connection.RemoteIpAddress = client is null ? null : IPAddress.Parse(client);
        context.Response.Body = new MemoryStream();
        context.Features.Set<IReverseProxyFeature>(new ProxyFeature(route ?? AnyKey));
        await _middleware.InvokeAsync(context, _ =>
        {
            Interlocked.Increment(ref _proxied);
            return Task.CompletedTask;
        });
        return context;
    }

    private static string? ErrorOf(HttpContext context)
    {
        context.Response.Body.Position = 0;
        using var body = System.Text.Json.JsonDocument.Parse(context.Response.Body);
        return body.RootElement.GetProperty("error").GetString();
    }

    private sealed class ProxyFeature(RouteModel route) : IReverseProxyFeature
    {
        public RouteModel Route { get; } = route;

        public ClusterModel Cluster { get; set; } = null!;

        public IReadOnlyList<DestinationState> AllDestinations { get; } = [];

        public IReadOnlyList<DestinationState> AvailableDestinations { get; set; } = [];

        public DestinationState? ProxiedDestination { get; set; }
    }

    /// <summary>KeyValidation answering every lookup with <see cref="Answer"/>, as of sequence 0; nothing else is played.</summary>
    private sealed class Validation : CallInvoker
    {
        public ValidateResponse Answer { get; set; } = new();

        public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            request is ValidateRequest
                ? new AsyncUnaryCall<TResponse>(
                    Task.FromResult((TResponse)(object)Answer.Clone()), Task.FromResult(new Metadata()), () => Status.DefaultSuccess, () => [], () => { })
                : throw new NotSupportedException(method.Name);

        public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
            throw new NotSupportedException(method.Name);

        public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) => throw new NotSupportedException(method.Name);

        public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException(method.Name);

        public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
            Method<TRequest, TResponse> method, string? host, CallOptions options) => throw new NotSupportedException(method.Name);
    }
}
