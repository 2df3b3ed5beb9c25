using System.Diagnostics;
using System.Net;
using Keys.FunctionalTests.Infrastructure;

namespace Keys.FunctionalTests;

[Collection(KeysCollection.Name)]
public sealed class VerticalSliceTests(KeysAppFixture fixture)
{
    [Theory]
    [InlineData("publishable", "pk_")]
    [InlineData("secret", "sk_")]
    public async Task KeyCreatedThroughRestReachesTheDemoAppWithoutTheApiKeyHeader(string type, string prefix)
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var created = await admin.CreateKeyAsync(project.Id, "dev", $"{type}-key", type);
        Assert.StartsWith(prefix, created.Value);

        using var gateway = fixture.CreateGatewayClient();
        var echo = await (await gateway.SendAsync(GatewayResponses.Get("/demo/public/orders?page=2", created.Value))).ReadEchoAsync();

        Assert.Equal("/demo/public/orders", echo.Path);
        Assert.False(echo.HasHeader("X-API-Key"), "the key itself must never reach the upstream");
        Assert.Equal(created.Key.Id, echo.Header("X-Key-Id"));
        Assert.Equal(project.Id, echo.Header("X-Project-Id"));
        Assert.Equal("dev", echo.Header("X-Environment"));
        Assert.Equal(type, echo.Header("X-Key-Type"));
    }

    [Fact]
    public async Task RequestWithoutKeyGets401Unauthorized()
    {
        using var gateway = fixture.CreateGatewayClient();
        var response = await gateway.SendAsync(GatewayResponses.Get("/demo/public/orders"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("UNAUTHORIZED", (await response.ReadErrorAsync()).Error);
    }

    [Theory]
    [InlineData("not-a-key")]
    [InlineData("sk_0000000000000000000000000000000000000000000000000")]
    public async Task GarbageKeyGets401InvalidToken(string garbage)
    {
        using var gateway = fixture.CreateGatewayClient();
        var response = await gateway.SendAsync(GatewayResponses.Get("/demo/public/orders", garbage));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("INVALID_TOKEN", (await response.ReadErrorAsync()).Error);
    }

    [Fact]
    public async Task OpenRouteNeedsNoKey()
    {
        using var gateway = fixture.CreateGatewayClient();
        var echo = await (await gateway.GetAsync("/demo/open/status")).ReadEchoAsync();

        Assert.Equal("/demo/open/status", echo.Path);
    }

    [Fact]
    public async Task DeletedKeyGets401WithinOneSecond()
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var created = await admin.CreateKeyAsync(project.Id, "prod", "short-lived", "secret");
        using var gateway = fixture.CreateGatewayClient();

        // Used once first, so that its record is cached and the delete has something to invalidate.
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/public/a", created.Value))).StatusCode);

        var deleted = await admin.DeleteKeyAsync(project.Id, "prod", created.Key.Id, "short-lived");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        var clock = Stopwatch.StartNew();

        var response = await gateway.FirstRejectionAsync("/demo/public/a", created.Value, within: TimeSpan.FromSeconds(1));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("TOKEN_REVOKED", (await response.ReadErrorAsync()).Error);
        Assert.True(clock.Elapsed <= TimeSpan.FromSeconds(1), $"the key still worked {clock.Elapsed.TotalMilliseconds:F0} ms after its delete returned");
    }

    [Fact]
    public async Task ManagementApiRejectsAWrongAdminToken()
    {
        var admin = fixture.CreateKeyAdminClient(token: "not-the-admin-token");
        var response = await admin.Http.PostAsync("/v1/projects", JsonContent.Create(new { name = "x" }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
