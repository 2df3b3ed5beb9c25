using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using static Keys.FunctionalTests.Infrastructure.LoopbackClients;

namespace Keys.FunctionalTests;

/// <summary>The gateway's answers, header handling, forwarding, CORS and failure modes, against the real system.</summary>
[Collection(KeysCollection.Name)]
public sealed class GatewayTests(KeysAppFixture fixture) : IAsyncLifetime
{
    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly HttpClient _gateway = fixture.CreateGatewayClient();
    private ProjectDto _project = null!;
    private CreatedKeyDto _publishable = null!;
    private CreatedKeyDto _secret = null!;

    public async Task InitializeAsync()
    {
        _project = await _admin.CreateProjectAsync("Gateway tests");
        _publishable = await _admin.CreateKeyAsync(_project.Id, "dev", "browser-app", "publishable");
        _secret = await _admin.CreateKeyAsync(_project.Id, "dev", "server-app", "secret");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task MissingOrBlankKeyIs401Unauthorized(string? value)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/demo/public/x");
        if (value is not null)
        {
            request.Headers.TryAddWithoutValidation("X-API-Key", value);
        }

        await AssertRejectedAsync(await _gateway.SendAsync(request), HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task KeyInTheQueryStringDoesNotCountAndIsNotLogged()
    {
        var response = await _gateway.GetAsync($"/demo/public/x?X-API-Key={_secret.Value}&api_key={_secret.Value}");

        await AssertRejectedAsync(response, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.DoesNotContain(_secret.Value, await fixture.ReadAllLogsAsync());
    }

    [Theory]
    [InlineData("malformed")]
    [InlineData("wrong-prefix")]
    [InlineData("bad-checksum")]
    [InlineData("unknown")]
    [InlineData("overlong")]
    [InlineData("comma-joined")]
    public async Task UnusableKeyIs401InvalidToken(string kind)
    {
        var valid = _secret.Value;
        var key = kind switch
        {
            "malformed" => "not a key",
            "wrong-prefix" => "rk_" + valid[3..],
            "bad-checksum" => valid[..^1] + (valid[^1] == 'a' ? 'b' : 'a'),
            "unknown" => KeyString.Generate(ApiKeyType.Secret),
            "overlong" => valid + new string('x', 8_000),
            _ => $"{valid},{_publishable.Value}",
        };

        await AssertRejectedAsync(await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key)), HttpStatusCode.Unauthorized, "INVALID_TOKEN");
    }

    [Fact]
    public async Task DuplicatedHeaderIs401InvalidToken()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/demo/public/x");
        request.Headers.Add("X-API-Key", [_secret.Value, _secret.Value]);

        await AssertRejectedAsync(await _gateway.SendAsync(request), HttpStatusCode.Unauthorized, "INVALID_TOKEN");
    }

    /// <summary>
    /// Two X-API-Key lines, which HttpClient would fold into one comma-joined line (the test above): only a request
    /// written by hand reaches the gateway with two values, each a valid key on its own.
    /// </summary>
    [Fact]
    public async Task TwoHeaderLinesEachWithAValidKeyAre401InvalidTokenAskingForExactlyOne()
    {
        var gateway = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var connection = new TcpClient();
        await connection.ConnectAsync(gateway.Host, gateway.Port);
        var stream = connection.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /demo/public/x HTTP/1.1\r\nHost: {gateway.Authority}\r\n" +
            $"X-API-Key: {_secret.Value}\r\nX-API-Key: {_secret.Value}\r\nConnection: close\r\n\r\n"));
        var response = await new StreamReader(stream, Encoding.ASCII).ReadToEndAsync();

        Assert.True(response.StartsWith("HTTP/1.1 401 ", StringComparison.Ordinal), response);
        var body = JsonSerializer.Deserialize<ErrorBody>(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..], JsonSerializerOptions.Web);
        Assert.Equal("INVALID_TOKEN", body?.Error);
        Assert.Contains("exactly one X-API-Key header", body?.Message);
    }

    [Fact]
    public async Task LowercaseHeaderNameIsTheSameHeader()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/demo/public/x");
        request.Headers.TryAddWithoutValidation("x-api-key", _secret.Value);

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task ExpiredKeyIs401TokenExpired()
    {
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(2);
        var key = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "expiring", type = "secret", expiresAt }));
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);

        await Clock.PastAsync(key.Key.ExpiresAt!.Value);

        await AssertRejectedAsync(
            await _gateway.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value)), HttpStatusCode.Unauthorized, "TOKEN_EXPIRED");
    }

    [Fact]
    public async Task PublishableKeyOnASecretOnlyRouteIs403PermissionDenied()
    {
        await AssertRejectedAsync(
            await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", _publishable.Value)), HttpStatusCode.Forbidden, "PERMISSION_DENIED");
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/demo/private/x", _secret.Value))).StatusCode);
    }

    [Fact]
    public async Task ScopesAreCheckedAgainstTheTableAndTheMethod()
    {
        var scoped = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "posts-reader", type = "publishable", scopes = new[] { "posts:read", "*:delete" } }));

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/posts", scoped.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/posts/42", scoped.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(WithKey(HttpMethod.Delete, "/v1/data/comments/7", scoped.Value))).StatusCode);
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(HttpMethod.Post, "/v1/data/posts", scoped.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
        await AssertRejectedAsync(
            await _gateway.SendAsync(GatewayResponses.Get("/v1/data/comments", scoped.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(HttpMethod.Patch, "/v1/data/posts/42", scoped.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");

        // No scopes: a secret key is limited only by its type; a publishable key may only read.
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(WithKey(HttpMethod.Post, "/v1/data/posts", _secret.Value))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(GatewayResponses.Get("/v1/data/posts", _publishable.Value))).StatusCode);
        await AssertRejectedAsync(
            await _gateway.SendAsync(WithKey(HttpMethod.Post, "/v1/data/posts", _publishable.Value)), HttpStatusCode.Forbidden, "SCOPE_INSUFFICIENT");
    }

    [Theory]
    [InlineData("Origin", "https://app.example")]
    [InlineData("Sec-Fetch-Mode", "cors")]
    [InlineData("Sec-Fetch-Site", "same-origin")]
    public async Task SecretKeyFromABrowserIs403(string header, string value)
    {
        var request = GatewayResponses.Get("/demo/public/x", _secret.Value);
        request.Headers.Add(header, value);

        var body = await AssertRejectedAsync(await _gateway.SendAsync(request), HttpStatusCode.Forbidden, "SECRET_KEY_IN_BROWSER");
        Assert.Contains("publishable", body.Message);
    }

    [Fact]
    public async Task PublishableKeyFromABrowserIsFine()
    {
        var request = GatewayResponses.Get("/demo/public/x", _publishable.Value);
        request.Headers.Add("Origin", "http://localhost:5173");
        request.Headers.Add("Sec-Fetch-Mode", "cors");

        Assert.Equal(HttpStatusCode.OK, (await _gateway.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task ClientSentIdentityHeadersNeverReachTheUpstreamWhichGetsTheKeysOwn()
    {
        string[] identity = ["X-Key-Id", "X-Key-Type", "X-Project-Id", "X-Environment", "X-Key-Scopes"];
        var scoped = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await _admin.PostKeyAsync(_project.Id, "dev", new { name = "identified", type = "publishable", scopes = new[] { "posts:read", "comments:*" } }));

        var open = new HttpRequestMessage(HttpMethod.Get, "/demo/open/x");
        var keyed = GatewayResponses.Get("/v1/data/posts", scoped.Value);
        foreach (var header in identity)
        {
            open.Headers.Add(header, "forged");
            keyed.Headers.Add(header, "forged");
        }

        var openEcho = await (await _gateway.SendAsync(open)).ReadEchoAsync();
        var keyedEcho = await (await _gateway.SendAsync(keyed)).ReadEchoAsync();

        Assert.All(identity, header => Assert.False(openEcho.HasHeader(header), $"{header} reached the upstream of an open route"));
        Assert.Equal(scoped.Key.Id, keyedEcho.Header("X-Key-Id"));
        Assert.Equal("publishable", keyedEcho.Header("X-Key-Type"));
        Assert.Equal(_project.Id, keyedEcho.Header("X-Project-Id"));
        Assert.Equal("dev", keyedEcho.Header("X-Environment"));
        Assert.Equal("posts:read,comments:*", keyedEcho.Header("X-Key-Scopes"));
    }

    [Fact]
    public async Task AuthorizationPassesThroughUntouched()
    {
        var request = GatewayResponses.Get("/demo/public/x", _publishable.Value);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer end-user.jwt.token");

        var echo = await (await _gateway.SendAsync(request)).ReadEchoAsync();

        Assert.Equal("Bearer end-user.jwt.token", echo.Header("Authorization"));
        Assert.False(echo.HasHeader("X-API-Key"));
    }

    [Fact]
    public async Task CorsPreflightFromAnAllowedOriginIsAnsweredWithoutAKey()
    {
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/demo/public/x");
        preflight.Headers.Add("Origin", "http://localhost:5173");
        preflight.Headers.Add("Access-Control-Request-Method", "GET");
        preflight.Headers.Add("Access-Control-Request-Headers", "x-api-key,authorization");

        var response = await _gateway.SendAsync(preflight);

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}");
        Assert.Equal("http://localhost:5173", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
        Assert.Contains("x-api-key", allowed);
        Assert.Contains("authorization", allowed);
    }

    [Fact]
    public async Task HealthEndpointsNeedNoKey()
    {
        Assert.Equal(HttpStatusCode.OK, (await _gateway.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.GetAsync("/alive")).StatusCode);
    }

    [Fact]
    public async Task TooManyInvalidKeysFromOneAddressAre429WhileOtherAddressesAreServed()
    {
        var gatewayAddress = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))[0];
        using var attacker = ClientFrom(IPAddress.Parse("127.0.0.2"), gatewayAddress);
        using var bystander = ClientFrom(IPAddress.Parse("127.0.0.3"), gatewayAddress);

        HttpResponseMessage response = null!;
        for (var i = 0; i <= KeysAppFixture.InvalidKeyLimit; i++)
        {
            response = await attacker.SendAsync(GatewayResponses.Get("/demo/public/x", KeyString.Generate(ApiKeyType.Secret)));
        }

        await AssertRejectedAsync(response, HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter?.Delta);

        // Over the limit, the attacker's next guess gets no lookup at all, and garbage is 429 too.
        await AssertRejectedAsync(
            await attacker.SendAsync(GatewayResponses.Get("/demo/public/x", KeyString.Generate(ApiKeyType.Publishable))), HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        await AssertRejectedAsync(
            await attacker.SendAsync(GatewayResponses.Get("/demo/public/x", "garbage")), HttpStatusCode.TooManyRequests, "TOO_MANY_REQUESTS");
        Assert.Equal(HttpStatusCode.OK, (await bystander.SendAsync(GatewayResponses.Get("/demo/public/x", _secret.Value))).StatusCode);
    }

    [Fact]
    public async Task RevocationIsSeenByBothGatewayReplicas()
    {
        var replicas = await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2);
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "on-both-gateways", "secret");
        var clients = replicas.Select(address => new HttpClient { BaseAddress = address }).ToList();
        try
        {
            // Twice each: the second answer comes from each replica's near cache.
            foreach (var client in clients.Concat(clients))
            {
                Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await _admin.DeleteKeyAsync(_project.Id, "dev", key.Key.Id, "on-both-gateways")).StatusCode);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);

            foreach (var client in clients)
            {
                var response = await client.FirstRejectionAsync("/demo/public/x", key.Value, within: deadline - DateTime.UtcNow);
                await AssertRejectedAsync(response, HttpStatusCode.Unauthorized, "TOKEN_REVOKED");
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>
    /// A rolled key keeps working through its grace period and stops at its end. Both gateway replicas have it in their
    /// near cache, where nothing asks KeyValidation again: the end is the gateway's own check of the cached grace end.
    /// </summary>
    [Fact]
    public async Task ARolledKeyInTheGatewaysCacheIs401TokenRevokedOnceItsGraceEnds()
    {
        var replicas = await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2);
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "rolled-in-cache", "secret");
        var clients = replicas.Select(address => new HttpClient { BaseAddress = address }).ToList();
        try
        {
            foreach (var client in clients)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);
            }

            var rolled = await _admin.RollKeyAsync(_project.Id, "dev", key.Key.Id, gracePeriodSeconds: 4);
            var graceUntil = rolled.PreviousKey.GraceUntil ?? throw new InvalidOperationException("The roll gave the old key no grace end.");

            // Twice each within the grace period: the second answer is the near cache's, with the roll applied to it.
            foreach (var client in clients.Concat(clients))
            {
                Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value))).StatusCode);
                Assert.True(DateTimeOffset.UtcNow < graceUntil, "The grace period ended before the old key was seen in it: a test this slow proves nothing.");
            }

            await Clock.PastAsync(graceUntil);

            foreach (var client in clients)
            {
                await AssertRejectedAsync(
                    await client.SendAsync(GatewayResponses.Get("/demo/public/x", key.Value)), HttpStatusCode.Unauthorized, "TOKEN_REVOKED");
                Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(GatewayResponses.Get("/demo/public/x", rolled.Value))).StatusCode);
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    public Task DisposeAsync()
    {
        _gateway.Dispose();
        return Task.CompletedTask;
    }

    // Shared with the outage tests, which need a system of their own.
    internal static async Task<ErrorBody> AssertRejectedAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        Assert.True(status == response.StatusCode, $"expected {(int)status} {error}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var body = await response.ReadErrorAsync();
        Assert.Equal(error, body.Error);
        return body;
    }

    private static HttpRequestMessage WithKey(HttpMethod method, string path, string key)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-API-Key", key);
        return request;
    }
}
