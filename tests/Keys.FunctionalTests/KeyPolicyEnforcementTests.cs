using System.Diagnostics;
using System.Net;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.FunctionalTests.Infrastructure;
using Keys.Orders.V1;
using static Keys.FunctionalTests.Infrastructure.GatewayResponses;

namespace Keys.FunctionalTests;

/// <summary>
/// What an operator sets on a key, enforced where keys are checked, against the real system: a disabled key is refused
/// by both gateways and by Orders within a second and passes again once enabled; Orders' rate-limit metadata and
/// RESOURCE_EXHAUSTED; allowed networks (the client address a
/// trusted proxy names, IPv4 and IPv6) and allowed origins; a local limit counted by each gateway alone, and a global
/// one shared by both within 10 %. Keys are made and changed through KeyAdmin's REST API (CreateKey's
/// <c>rateLimit</c>, <c>allowedCidrs</c>, <c>allowedOrigins</c>; PATCH with <c>enabled</c>).
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class KeyPolicyEnforcementTests(PolicyAppFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Propagation = TimeSpan.FromSeconds(1);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly HttpClient _gateway = fixture.CreateGatewayClient();
    private readonly List<HttpClient> _replicas = [];
    private ProjectDto _project = null!;

    public async Task InitializeAsync()
    {
        _project = await _admin.CreateProjectAsync("Key policy enforcement");
        foreach (var address in await fixture.GetReplicaAddressesAsync("gateway", "http", 2))
        {
            _replicas.Add(new HttpClient { BaseAddress = address });
        }
    }

    public Task DisposeAsync()
    {
        _replicas.ForEach(r => r.Dispose());
        _gateway.Dispose();
        return Task.CompletedTask;
    }

    // --- Disabled ---

    [Fact]
    public async Task DisabledKeyIsRefusedTokenDisabledByEveryGatewayWithinOneSecondAndPassesAgainOnceEnabled()
    {
        var key = await CreateKeyAsync(new { name = "switched", type = "secret" });
        await Task.WhenAll(_replicas.Select(async replica =>
        {
            // In each near cache, so that only the change's invalidation can stop it.
            for (var i = 0; i < 3; i++)
            {
                await (await replica.SendAsync(Get("/demo/private/x", key.Value))).ReadEchoAsync();
            }
        }));

        await PatchKeyAsync(key, new { enabled = false });
        var disabledAt = Stopwatch.StartNew();
        var refusals = await Task.WhenAll(_replicas.Select(async replica =>
        {
            var response = await replica.FirstRejectionAsync("/demo/private/x", key.Value, Propagation + TimeSpan.FromSeconds(2));
            return (Elapsed: disabledAt.Elapsed, response.StatusCode, (await response.ReadErrorAsync()).Error);
        }));

        Assert.All(refusals, r =>
        {
            Assert.Equal((HttpStatusCode.Unauthorized, "TOKEN_DISABLED"), (r.StatusCode, r.Error));
            Assert.True(r.Elapsed <= Propagation, $"TOKEN_DISABLED after {r.Elapsed.TotalMilliseconds:F0} ms");
        });

        // Cached as disabled: refused on every request, not only the first.
        foreach (var replica in _replicas)
        {
            for (var i = 0; i < 3; i++)
            {
                var again = await replica.SendAsync(Get("/demo/private/x", key.Value));
                Assert.Equal("TOKEN_DISABLED", (await again.ReadErrorAsync()).Error);
            }
        }

        await PatchKeyAsync(key, new { enabled = true });
        var enabledAt = Stopwatch.StartNew();
        var passes = await Task.WhenAll(_replicas.Select(async replica =>
        {
            HttpResponseMessage response;
            do
            {
                response = await replica.SendAsync(Get("/demo/private/x", key.Value));
            }
            while (response.StatusCode != HttpStatusCode.OK && enabledAt.Elapsed < Propagation + TimeSpan.FromSeconds(2));

            return (Elapsed: enabledAt.Elapsed, response.StatusCode);
        }));

        Assert.All(passes, p =>
        {
            Assert.Equal(HttpStatusCode.OK, p.StatusCode);
            Assert.True(p.Elapsed <= Propagation, $"passed again only after {p.Elapsed.TotalMilliseconds:F0} ms");
        });
    }

    [Fact]
    public async Task OrdersRefusesADisabledKeyUnauthenticatedWithReasonTokenDisabled()
    {
        var key = await CreateKeyAsync(new { name = "orders-switched", type = "secret", scopes = new[] { "orders:read" } });
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("orders", "grpc"));
        var orders = new Orders.V1.Orders.OrdersClient(channel);
        var headers = new Metadata { { "x-api-key", key.Value } };
        await orders.ListOrdersAsync(new ListOrdersRequest(), headers);

        await PatchKeyAsync(key, new { enabled = false });
        var clock = Stopwatch.StartNew();
        RpcException? refusal = null;
        while (refusal is null && clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            try
            {
                await orders.ListOrdersAsync(new ListOrdersRequest(), headers);
            }
            catch (RpcException ex)
            {
                refusal = ex;
            }
        }

        Assert.NotNull(refusal);
        Assert.True(clock.Elapsed <= Propagation, $"refused after {clock.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(StatusCode.Unauthenticated, refusal.StatusCode);
        var info = refusal.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.Equal(("TOKEN_DISABLED", "keys.v1"), (info?.Reason, info?.Domain));
    }

    [Fact]
    public async Task OrdersAnswersALimitedKeyWithTheRateLimitMetadataAndPastItResourceExhaustedWithReasonRateLimited()
    {
        var key = await CreateKeyAsync(new
        {
            name = "orders-limited",
            type = "secret",
            scopes = new[] { "orders:read" },
            rateLimit = new { limit = 2, windowSeconds = 3600, mode = "local" },
        });
        await AwayFromTheWindowsEndAsync(3600);
        using var channel = GrpcChannel.ForAddress(fixture.App.GetEndpoint("orders", "grpc"));
        var orders = new Orders.V1.Orders.OrdersClient(channel);
        var headers = new Metadata { { "x-api-key", key.Value } };

        using var first = orders.ListOrdersAsync(new ListOrdersRequest(), headers);
        await first.ResponseAsync;
        var metadata = await first.ResponseHeadersAsync;
        await orders.ListOrdersAsync(new ListOrdersRequest(), headers);
        var refusal = await Assert.ThrowsAsync<RpcException>(() => orders.ListOrdersAsync(new ListOrdersRequest(), headers).ResponseAsync);

        Assert.Equal("\"key\";q=2;w=3600", metadata.GetValue("ratelimit-policy"));
        Assert.StartsWith("\"key\";r=1;t=", metadata.GetValue("ratelimit"), StringComparison.Ordinal);
        Assert.Equal(StatusCode.ResourceExhausted, refusal.StatusCode);
        Assert.Equal("RATE_LIMITED", refusal.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason);
        Assert.Equal("\"key\";q=2;w=3600", refusal.Trailers.GetValue("ratelimit-policy"));
        Assert.StartsWith("\"key\";r=0;t=", refusal.Trailers.GetValue("ratelimit"), StringComparison.Ordinal);
    }

    // --- Allowed networks and origins ---

    [Theory]
    [InlineData("203.0.113.9", HttpStatusCode.OK)]
    [InlineData("198.51.100.1", HttpStatusCode.Forbidden)]
    [InlineData("2001:db8:1::5", HttpStatusCode.OK)]
    [InlineData("2001:db8:2::5", HttpStatusCode.Forbidden)]
    [InlineData(null, HttpStatusCode.Forbidden)]
    public async Task SecretKeyWithAllowedNetworksPassesFromThemAndIsRefusedIpNotAllowedElsewhere(string? client, HttpStatusCode status)
    {
        var key = await CreateKeyAsync(new { name = "networked", type = "secret", allowedCidrs = new[] { "203.0.113.0/24", "2001:db8:1::/48" } });

        // Without X-Forwarded-For the client is the test itself, on loopback: in neither network.
        var request = Get("/demo/private/x", key.Value);
        if (client is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
        }

        var response = await _gateway.SendAsync(request);

        if (status == HttpStatusCode.OK)
        {
            await response.ReadEchoAsync();
        }
        else
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("IP_NOT_ALLOWED", (await response.ReadErrorAsync()).Error);
        }
    }

    [Theory]
    [InlineData("https://app.example.com", HttpStatusCode.OK)]
    [InlineData("https://evil.example.com", HttpStatusCode.Forbidden)]
    [InlineData(null, HttpStatusCode.Forbidden)]
    public async Task PublishableKeyWithAllowedOriginsPassesWithOneAndIsRefusedOriginNotAllowedOtherwiseVaryingByOrigin(string? origin, HttpStatusCode status)
    {
        var key = await CreateKeyAsync(new { name = "browser", type = "publishable", allowedOrigins = new[] { "https://app.example.com" } });
        var request = Get("/demo/public/x", key.Value);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        var response = await _gateway.SendAsync(request);

        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Contains("X-API-Key", response.Headers.Vary);
        if (status == HttpStatusCode.OK)
        {
            await response.ReadEchoAsync();
        }
        else
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("ORIGIN_NOT_ALLOWED", (await response.ReadErrorAsync()).Error);
        }
    }

    // --- Rate limits ---

    [Fact]
    public async Task LocalLimitPassesExactlyTheLimitPerWindowOnEachGatewayThenIs429WithTheHeaders()
    {
        const int limit = 5;
        const int window = 3600;
        var key = await CreateKeyAsync(new { name = "local-limit", type = "secret", rateLimit = new { limit, windowSeconds = window, mode = "local" } });
        await AwayFromTheWindowsEndAsync(window);

        foreach (var replica in _replicas)
        {
            for (var i = 0; i < limit; i++)
            {
                var passed = await replica.SendAsync(Get("/demo/private/x", key.Value));
                await passed.ReadEchoAsync();
                Assert.Equal($"\"key\";q={limit};w={window}", Single(passed, "RateLimit-Policy"));
                Assert.StartsWith($"\"key\";r={limit - 1 - i};t=", Single(passed, "RateLimit"), StringComparison.Ordinal);
            }

            var limited = await replica.SendAsync(Get("/demo/private/x", key.Value));

            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Equal("RATE_LIMITED", (await limited.ReadErrorAsync()).Error);
            var retryAfter = (int)limited.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
            Assert.InRange(retryAfter, 1, window);
            Assert.Equal($"\"key\";q={limit};w={window}", Single(limited, "RateLimit-Policy"));
            Assert.Equal($"\"key\";r=0;t={retryAfter}", Single(limited, "RateLimit"));
        }
    }

    [Fact]
    public async Task GlobalLimitIsSharedByBothGatewaysWithinTenPercentAndNeverExceeded()
    {
        const int limit = 200;
        var key = await CreateKeyAsync(new { name = "global-limit", type = "secret", rateLimit = new { limit, windowSeconds = 3600, mode = "global" } });
        await AwayFromTheWindowsEndAsync(3600);
        var passedBy = new int[_replicas.Count];
        var other = new System.Collections.Concurrent.ConcurrentBag<string>();

        // Four clients on each gateway, 3 × the limit in all.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var replica = worker % _replicas.Count;
            for (var i = 0; i < 3 * limit / 8; i++)
            {
                var response = await _replicas[replica].SendAsync(Get("/demo/private/x", key.Value));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref passedBy[replica]);
                }
                else if (response.StatusCode != HttpStatusCode.TooManyRequests)
                {
                    other.Add($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        })));

        Assert.Empty(other);
        Assert.InRange(passedBy.Sum(), limit * 9 / 10, limit);
        Assert.All(passedBy, passed => Assert.True(passed > 0, "A gateway passed nothing: the limit was not shared."));
    }

    private static string Single(HttpResponseMessage response, string header) =>
        Assert.Single(response.Headers.TryGetValues(header, out var values) ? values : []);

    /// <summary>Waits, when the current window of <paramref name="windowSeconds"/> ends within 30 s, for the next one.</summary>
    private static async Task AwayFromTheWindowsEndAsync(int windowSeconds)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var left = (windowSeconds * 1000L) - (now % (windowSeconds * 1000L));
        if (left < 30_000)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(left + 100));
        }
    }

    private async Task<CreatedKeyDto> CreateKeyAsync(object body) =>
        await KeyAdminClient.ReadAsync<CreatedKeyDto>(await _admin.PostKeyAsync(_project.Id, "dev", body));

    private async Task PatchKeyAsync(CreatedKeyDto key, object changes)
    {
        var response = await _admin.Http.PatchAsJsonAsync($"/v1/projects/{_project.Id}/environments/dev/keys/{key.Key.Id}", changes);
        Assert.True(response.IsSuccessStatusCode, $"PATCH: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
