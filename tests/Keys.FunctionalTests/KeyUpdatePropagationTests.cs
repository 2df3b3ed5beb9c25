using System.Diagnostics;
using System.Net;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// A key changed in place keeps its value, and every gateway applies the change as it applies a delete: each field
/// validation sees, patched on a key both gateways hold in their near caches, is enforced by both within the bound.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class KeyUpdatePropagationTests(KeysAppFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(1);

    private readonly KeyLifecycle _keys = new(fixture);
    private readonly List<HttpClient> _gateways = [];
    private string _projectId = "";

    public async Task InitializeAsync()
    {
        _projectId = (await _keys.NewProjectAsync("Propagation")).Id;
        _gateways.AddRange((await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))
            .Select(address => new HttpClient { BaseAddress = address }));
    }

    public Task DisposeAsync()
    {
        _gateways.ForEach(g => g.Dispose());
        _keys.Dispose();
        return Task.CompletedTask;
    }

    public static TheoryData<string, string, string, HttpStatusCode, string> Changes => new()
    {
        // field, key type, PATCH body, then what each gateway answers once the change has reached it
        { "scopes", "secret", """{"scopes": ["reports:read"]}""", HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT" },
        { "enabled", "secret", """{"enabled": false}""", HttpStatusCode.Unauthorized, "TOKEN_DISABLED" },
        { "allowedCidrs", "secret", """{"allowedCidrs": ["192.0.2.0/24", "2001:db8::/32"]}""", HttpStatusCode.Forbidden, "IP_NOT_ALLOWED" },
        { "allowedOrigins", "publishable", """{"allowedOrigins": ["https://app.example.com"]}""", HttpStatusCode.Forbidden, "ORIGIN_NOT_ALLOWED" },
        { "rateLimit", "secret", """{"rateLimit": {"limit": 1, "windowSeconds": 3600, "mode": "local"}}""", HttpStatusCode.TooManyRequests, "RATE_LIMITED" },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task EachFieldPatchedOnACachedKeyIsEnforcedByBothGatewaysWithinOneSecond(
        string field, string type, string body, HttpStatusCode status, string reason)
    {
        var key = await _keys.NewKeyAsync(_projectId, type, name: $"{field}-key");
        await _gateways.EveryGatewayPassesAsync(key.Value);

        var patched = await _keys.PatchKeyAsync(_projectId, "dev", key.Key.Id, body);
        Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());

        await _gateways.EveryGatewayRefusesAsync(key.Value, status, reason, Bound);
    }

    [Fact]
    public async Task AnExpiryPatchedOnACachedKeyStopsItAtThatSecondOnBothGateways()
    {
        var key = await _keys.NewKeyAsync(_projectId, name: "expiring-key");
        await _gateways.EveryGatewayPassesAsync(key.Value);

        // Were the change not to reach them, the gateways would keep serving the cached key, which never expires.
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(2);
        var patched = await _keys.PatchKeyAsync(_projectId, "dev", key.Key.Id, $$"""{"expiresAt": "{{expiresAt.UtcDateTime:O}}"}""");
        Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());

        await _gateways.EveryGatewayRefusesAsync(key.Value, HttpStatusCode.Unauthorized, "TOKEN_EXPIRED", expiresAt - DateTimeOffset.UtcNow + Bound);
    }

    [Fact]
    public async Task AProjectDefaultRateLimitReachesBothGatewaysForAKeyWithoutItsOwnWithinOneSecond()
    {
        var projectId = (await _keys.NewProjectAsync("Propagation default")).Id;
        var key = await _keys.NewKeyAsync(projectId, name: "follows-default");
        await _gateways.EveryGatewayPassesAsync(key.Value);

        var patched = await _keys.PatchProjectAsync(projectId, """{"defaultRateLimit": {"limit": 1, "windowSeconds": 3600, "mode": "local"}}""");
        Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());

        await _gateways.EveryGatewayRefusesAsync(key.Value, HttpStatusCode.TooManyRequests, "RATE_LIMITED", Bound);
    }

    [Fact]
    public async Task AGlobalLimitRaisedOnAKeyThatHasSpentItPassesAgainOnBothGatewaysWithinOneSecond()
    {
        var key = await _keys.NewKeyAsync(_projectId, name: "raised-global", configure: request =>
            request.RateLimit = new RateLimit { Limit = 2, WindowSeconds = 3600, Mode = "global" });

        // Spent between them, and known to be spent by each: both have answered 429 for this window.
        foreach (var gateway in _gateways)
        {
            var spent = await gateway.FirstRejectionAsync("/demo/public/x", key.Value, TimeSpan.FromSeconds(30));
            Assert.Equal("RATE_LIMITED", (await spent.ReadErrorAsync()).Error);
        }

        var patched = await _keys.PatchKeyAsync(_projectId, "dev", key.Key.Id, """{"rateLimit": {"limit": 10, "windowSeconds": 3600, "mode": "global"}}""");
        Assert.True(patched.IsSuccessStatusCode, await patched.Content.ReadAsStringAsync());
        var raisedAt = Stopwatch.StartNew();

        foreach (var gateway in _gateways)
        {
            HttpResponseMessage response;
            do
            {
                response = await gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value));
            }
            while (response.StatusCode != HttpStatusCode.OK && raisedAt.Elapsed < Bound + TimeSpan.FromSeconds(2));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(raisedAt.Elapsed <= Bound, $"passed again only after {raisedAt.Elapsed.TotalMilliseconds:F0} ms");
        }
    }
}
