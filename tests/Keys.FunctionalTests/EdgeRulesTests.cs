using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
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
    private const int BusyClientSubnet = 42;

    private static readonly string[] IdentityHeaders = ["X-API-Key", "X-Key-Id", "X-Key-Type", "X-Project-Id", "X-Environment", "X-Key-Scopes"];
    private static readonly string[] MethodOverrideHeaders = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"];

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
    public async Task MethodOverrideHeadersNeverReachTheUpstream()
    {
        string[] spellings = [.. MethodOverrideHeaders, "x-http-method-override", "X_HTTP_Method_Override", "x_http-method", "X_METHOD_OVERRIDE"];

        foreach (var request in new[] { WithKey(HttpMethod.Post, "/demo/public/x", _secret.Value), new HttpRequestMessage(HttpMethod.Post, "/demo/open/x") })
        {
            foreach (var name in spellings)
            {
                request.Headers.TryAddWithoutValidation(name, "DELETE");
            }

            var echo = await (await _gateway.SendAsync(request)).ReadEchoAsync();

            Assert.Equal("POST", echo.Method);
            Assert.DoesNotContain(echo.Headers.Keys, name => MethodOverrideHeaders.Contains(Canonical(name), StringComparer.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public async Task IdentityHeadersInAnySpellingNeverReachTheUpstream()
    {
        string[] spellings = ["X_Key_Id", "x_key-type", "X-PROJECT_ID", "X_Environment", "X_KEY_SCOPES", "X_API_Key", "x-key_id"];

        var open = new HttpRequestMessage(HttpMethod.Get, "/demo/open/x");
        var keyed = GatewayResponses.Get("/demo/public/x", _publishable.Value);
        foreach (var name in spellings)
        {
            open.Headers.TryAddWithoutValidation(name, "spoofed");
            keyed.Headers.TryAddWithoutValidation(name, "spoofed");
        }

        var openEcho = await (await _gateway.SendAsync(open)).ReadEchoAsync();
        var keyedEcho = await (await _gateway.SendAsync(keyed)).ReadEchoAsync();

        // CGI, WSGI and Rack read X_Key_Id as X-Key-Id: no spelling of an identity header may carry the client's word.
        Assert.DoesNotContain(openEcho.Headers.Keys, name => IdentityHeaders.Contains(Canonical(name), StringComparer.OrdinalIgnoreCase));
        Assert.DoesNotContain(keyedEcho.Headers, h => h.Value.Contains("spoofed", StringComparison.Ordinal));
        Assert.DoesNotContain(keyedEcho.Headers.Keys, name => name.Contains('_', StringComparison.Ordinal));
        Assert.Equal(_publishable.Key.Id, keyedEcho.Header("X-Key-Id"));
    }

    [Fact]
    public async Task ForwardingHeadersInAnySpellingNeverCarryTheClientsWord()
    {
        string[] spellings = ["X_Forwarded_For", "x_forwarded-host", "X_Forwarded_Proto", "X_Real_IP", "X-Real-IP", "X-Forwarded-Prefix"];
        var request = GatewayResponses.Get("/demo/public/x", _publishable.Value);
        foreach (var name in spellings)
        {
            request.Headers.TryAddWithoutValidation(name, "203.0.113.66");
        }

        var echo = await (await _gateway.SendAsync(request)).ReadEchoAsync();

        // A CGI, WSGI or Rack upstream reads X_Forwarded_For as X-Forwarded-For: only the gateway's own may arrive.
        Assert.DoesNotContain(echo.Headers, h => h.Value.Contains("203.0.113.66", StringComparison.Ordinal));
        Assert.NotNull(echo.Header("X-Forwarded-For"));
    }

    [Theory]
    [InlineData("/demo/public/..%2Fprivate/x")]
    [InlineData("/demo/public/..%2fprivate/x")]
    [InlineData("/demo/public/..%5Cprivate/x")]
    [InlineData("/demo/public/..%5cprivate/x")]
    [InlineData("/demo/public/..\\private/x")]
    [InlineData("/v1/data/posts%2F..%2Fusers")]
    public async Task EncodedSlashInAKeyedPathIs400InvalidPath(string target)
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];

        // Sent as raw bytes: HttpClient would normalise the very characters under test. Before any key check, so
        // that no key is needed to be told, and no key makes it pass.
        var (status, body) = await SendRawAsync(gateway, target, apiKey: null);
        Assert.True(status == 400, $"expected 400 INVALID_PATH, got {status}: {body}");
        Assert.Contains("\"INVALID_PATH\"", body, StringComparison.Ordinal);

        (status, body) = await SendRawAsync(gateway, target, _secret.Value);
        Assert.True(status == 400, $"expected 400 INVALID_PATH, got {status}: {body}");
        Assert.Contains("\"INVALID_PATH\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task KeyedResponsesVaryByTheKey()
    {
        var served = await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x", _publishable.Value));
        var refused = await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", _publishable.Value));
        var missing = await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x"));

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.All(new[] { served, refused, missing }, response => Assert.Contains("X-API-Key", response.Headers.Vary, StringComparer.OrdinalIgnoreCase));
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
    public async Task ABusyClientWithAValidKeyIsNeverThrottledWhenItsKeyIsNotCached()
    {
        // A key no gateway has cached yet, asked by many requests at once from one address, as a busy server does after
        // a near-cache flush: they share one lookup, and a valid key spends none of the address's invalid-key permits.
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var key = await admin.CreateKeyAsync(project.Id, "dev", "busy-client", "secret");
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var busy = ClientFrom(Addresses(BusyClientSubnet, 1)[0], gateway);
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var sending = Enumerable.Range(0, 3 * KeysAppFixture.InvalidKeyLimit).Select(async _ =>
        {
            await go.Task;
            using var response = await busy.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value));
            return (int)response.StatusCode;
        }).ToList();
        go.SetResult();
        var statuses = await Task.WhenAll(sending);

        Assert.True(statuses.All(s => s == 200), string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Count()} × {g.Key}")));
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

    // How CGI-style upstreams read a header name: case-insensitive, with '_' for '-'.
    private static string Canonical(string name) => name.Replace('_', '-');

    private static async Task<(int Status, string Body)> SendRawAsync(Uri gateway, string target, string? apiKey)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, gateway.Port);
        var stream = tcp.GetStream();
        var request = new StringBuilder()
            .Append($"GET {target} HTTP/1.1\r\nHost: localhost:{gateway.Port}\r\nConnection: close\r\n")
            .Append(apiKey is null ? "" : $"X-API-Key: {apiKey}\r\n")
            .Append("\r\n")
            .ToString();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var response = await new StreamReader(stream, Encoding.UTF8).ReadToEndAsync();
        var status = int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        var headersEnd = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (status, headersEnd < 0 ? "" : response[(headersEnd + 4)..]);
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
