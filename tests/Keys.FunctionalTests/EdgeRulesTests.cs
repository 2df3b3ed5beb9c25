using System.Diagnostics;
using System.Net;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using static Keys.FunctionalTests.Infrastructure.LoopbackClients;

namespace Keys.FunctionalTests;

/// <summary>
/// What the gateway refuses or strips at the edge so that neither a key nor a forged header reaches further than it
/// should: least-privilege scopes, header spoofing, path confusion, shared caches and concurrent key guessing.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class EdgeRulesTests(KeysAppFixture fixture) : IAsyncLifetime
{
    // Loopback subnets of their own (see LoopbackClients.Addresses), so that no other test's refusals count here.
    private const int ConcurrentGuessesSubnet = 40;
    private const int ForwardedForSubnet = 41;

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly HttpClient _gateway = fixture.CreateGatewayClient();
    private ProjectDto _project = null!;
    private CreatedKeyDto _publishable = null!;
    private CreatedKeyDto _secret = null!;

    public async Task InitializeAsync()
    {
        _project = await _admin.CreateProjectAsync("Edge rules");
        _publishable = await _admin.CreateKeyAsync(_project.Id, "dev", "browser-app", "publishable");
        _secret = await _admin.CreateKeyAsync(_project.Id, "dev", "server-app", "secret");
    }

    [Theory]
    [InlineData("POST", "/v1/data/x")]
    [InlineData("PUT", "/v1/data/x/1")]
    [InlineData("PATCH", "/v1/data/x/1")]
    [InlineData("DELETE", "/v1/data/x")]
    [InlineData("DELETE", "/v1/data/x/1")]
    public async Task PublishableKeyWithoutScopesCannotWrite(string method, string path)
    {
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(new HttpMethod(method), path, _publishable.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");

        // The same request with a secret key without scopes is allowed: only publishable keys are read-only by default.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(WithKey(new HttpMethod(method), path, _secret.Value))).StatusCode);
    }

    [Fact]
    public async Task PublishableKeyWithoutScopesCanRead()
    {
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/x", _publishable.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/x/1", _publishable.Value))).StatusCode);
    }

    [Fact]
    public async Task PublishableKeyWithAWriteScopeCanWriteThatResource()
    {
        var writer = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "posts-writer", type = "publishable", scopes = new[] { "posts:create" } }));

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(WithKey(HttpMethod.Post, "/v1/data/posts", writer.Value))).StatusCode);
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(HttpMethod.Post, "/v1/data/comments", writer.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
    }

    [Fact]
    public async Task ScopedKeyIsRefusedOnARouteThatNamesNoScope()
    {
        var scoped = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "posts-reader", type = "secret", scopes = new[] { "posts:read" } }));

        await AssertRejectedAsync(
            await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", scoped.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");

        // Where the route names its resource, the same key reads what its scope covers.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/posts", scoped.Value))).StatusCode);
        // An unscoped secret key keeps every permission of its type.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", _secret.Value))).StatusCode);
    }

    [Fact]
    public async Task RouteWithAFixedScopeChecksItWithTheMethod()
    {
        var ordersReader = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "orders-reader", type = "secret", scopes = new[] { "orders:read" } }));
        var postsReader = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "posts-only", type = "secret", scopes = new[] { "posts:*" } }));

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/demo/orders/42", ordersReader.Value))).StatusCode);
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(HttpMethod.Post, "/demo/orders/42", ordersReader.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
        await AssertRejectedAsync(
            await _gateway.SendAsync(GatewayResponses.Get("/demo/orders/42", postsReader.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
    }

    [Fact]
    public async Task ConcurrentUnknownKeysFromOneAddressCauseAtMostTheLimitOfLookups()
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var attacker = ClientFrom(Addresses(ConcurrentGuessesSubnet, 1)[0], gateway);
        var guesses = Enumerable.Range(0, 3 * KeysAppFixture.InvalidKeyLimit).Select(_ => KeyString.Generate(ApiKeyType.Secret)).ToList();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var sending = guesses.Select(async guess =>
        {
            await go.Task;
            using var response = await attacker.SendAsync(GatewayResponses.Get("/demo/public/x", guess));
            return $"{(int)response.StatusCode} {(await response.ReadErrorAsync()).Error}";
        }).ToList();
        var clock = Stopwatch.StartNew();
        go.SetResult();
        var answers = await Task.WhenAll(sending);
        clock.Stop();

        // Every answer but a 429 is a lookup: 401 INVALID_TOKEN, or 503 if one timed out on this busy machine. The
        // bound holds per window, so the burst must fit in one.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the burst took {clock.Elapsed}, longer than the throttle's window");
        var counts = string.Join(", ", answers.GroupBy(a => a).Select(g => $"{g.Count()} × {g.Key}"));
        var lookups = answers.Count(a => a != "429 TOO_MANY_REQUESTS");
        Assert.True(
            lookups <= KeysAppFixture.InvalidKeyLimit,
            $"{lookups} lookups for {guesses.Count} concurrent guesses, the limit being {KeysAppFixture.InvalidKeyLimit}: {counts}");
        Assert.All(answers.Where(a => a != "429 TOO_MANY_REQUESTS"), a => Assert.Contains(a, new[] { "401 INVALID_TOKEN", "503 SERVICE_UNAVAILABLE" }));
    }

    [Fact]
    public async Task ForwardedForIsIgnoredWithoutTrustedProxies()
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var attacker = ClientFrom(Addresses(ForwardedForSubnet, 1)[0], gateway);

        HttpResponseMessage response = null!;
        for (var i = 0; i <= KeysAppFixture.InvalidKeyLimit; i++)
        {
            // A new "client" in every request: were X-Forwarded-For believed, each would get a fresh allowance.
            var request = GatewayResponses.Get("/demo/public/x", KeyString.Generate(ApiKeyType.Secret));
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"198.51.{i / 250}.{(i % 250) + 1}");
            response = await attacker.SendAsync(request);
        }

        await AssertRejectedAsync(response, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
    }

    public Task DisposeAsync()
    {
        _gateway.Dispose();
        return Task.CompletedTask;
    }

    private static async Task AssertRejectedAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        Assert.True(status == response.StatusCode, $"expected {(int)status} {error}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(error, (await response.ReadErrorAsync()).Error);
    }

    private static HttpRequestMessage WithKey(HttpMethod method, string path, string key)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-API-Key", key);
        return request;
    }
}
