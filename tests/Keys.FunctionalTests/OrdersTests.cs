using System.Diagnostics;
using System.Net;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Keys.FunctionalTests.Infrastructure;
using Keys.Orders.V1;

namespace Keys.FunctionalTests;

/// <summary>
/// An internal gRPC service (samples/Orders) that checks API keys itself through Keys.AspNetCore, called as its clients
/// would: each refusal carries the gateway's code in a google.rpc.ErrorInfo, and a deleted key stops as fast as at
/// the gateway.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class OrdersTests(KeysAppFixture fixture)
{
    [Fact]
    public async Task ValidKeyListsOrdersAndTheResponseNamesTheKeyThatCalled()
    {
        var (project, key) = await CreateKeyAsync("reader", "orders:read");
        using var channel = OrdersChannel();

        var response = await new Orders.V1.Orders.OrdersClient(channel).ListOrdersAsync(new ListOrdersRequest(), WithKey(key.Value));

        Assert.Equal(
            (key.Key.Id, project.Id, "prod", "secret", "orders:read"),
            (response.Caller.KeyId, response.Caller.ProjectId, response.Caller.Environment, response.Caller.KeyType, string.Join(' ', response.Caller.Scopes)));
        Assert.NotEmpty(response.Orders);
    }

    [Fact]
    public async Task CallWithoutAKeyIsUnauthenticatedWithReasonUnauthorized()
    {
        using var channel = OrdersChannel();

        var refusal = await Assert.ThrowsAsync<RpcException>(() => new Orders.V1.Orders.OrdersClient(channel).ListOrdersAsync(new ListOrdersRequest()).ResponseAsync);

        AssertRefused(refusal, StatusCode.Unauthenticated, "UNAUTHORIZED");
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("sk_0000000000000000000000000000000000000000000000000")]
    public async Task MalformedKeyIsUnauthenticatedWithReasonInvalidToken(string key)
    {
        using var channel = OrdersChannel();

        var refusal = await Assert.ThrowsAsync<RpcException>(
            () => new Orders.V1.Orders.OrdersClient(channel).ListOrdersAsync(new ListOrdersRequest(), WithKey(key)).ResponseAsync);

        AssertRefused(refusal, StatusCode.Unauthenticated, "INVALID_TOKEN");
    }

    [Fact]
    public async Task KeyWithoutOrdersCreateMayListButNotCreate()
    {
        var (_, key) = await CreateKeyAsync("reader", "orders:read");
        using var channel = OrdersChannel();
        var orders = new Orders.V1.Orders.OrdersClient(channel);

        await orders.ListOrdersAsync(new ListOrdersRequest(), WithKey(key.Value));
        var refusal = await Assert.ThrowsAsync<RpcException>(
            () => orders.CreateOrderAsync(new CreateOrderRequest { Item = "tea", Quantity = 1 }, WithKey(key.Value)).ResponseAsync);

        AssertRefused(refusal, StatusCode.PermissionDenied, "SCOPE_INSUFFICIENT");
    }

    [Fact]
    public async Task KeyWithOrdersCreateCreatesAnOrderOnlyItsOwnEnvironmentSees()
    {
        var (project, writer) = await CreateKeyAsync("writer", "orders:create", "orders:read");
        var admin = fixture.CreateKeyAdminClient();
        var otherEnvironment = await KeyAdminClient.ReadAsync<CreatedKeyDto>(
            await admin.PostKeyAsync(project.Id, "dev", new { name = "dev-reader", type = "secret", scopes = new[] { "orders:read" } }));
        using var channel = OrdersChannel();
        var orders = new Orders.V1.Orders.OrdersClient(channel);

        var created = await orders.CreateOrderAsync(new CreateOrderRequest { Item = "green tea", Quantity = 3 }, WithKey(writer.Value));

        Assert.Equal(("green tea", 3, writer.Key.Id), (created.Item, created.Quantity, created.Caller.KeyId));
        Assert.Contains(created.Id, (await orders.ListOrdersAsync(new ListOrdersRequest(), WithKey(writer.Value))).Orders.Select(o => o.Id));
        Assert.DoesNotContain(created.Id, (await orders.ListOrdersAsync(new ListOrdersRequest(), WithKey(otherEnvironment.Value))).Orders.Select(o => o.Id));
    }

    [Fact]
    public async Task DeletedKeyIsRefusedWithinOneSecondThoughItWasCached()
    {
        var (project, key) = await CreateKeyAsync("short-lived", "orders:read");
        using var channel = OrdersChannel();
        var orders = new Orders.V1.Orders.OrdersClient(channel);

        // Used first, so that the key is in the service's near cache and only an invalidation can take it out.
        for (var i = 0; i < 3; i++)
        {
            await orders.ListOrdersAsync(new ListOrdersRequest(), WithKey(key.Value));
        }

        var deleted = await fixture.CreateKeyAdminClient().DeleteKeyAsync(project.Id, "prod", key.Key.Id, "short-lived");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        var clock = Stopwatch.StartNew();

        RpcException? refusal = null;
        while (refusal is null && clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            try
            {
                await orders.ListOrdersAsync(new ListOrdersRequest(), WithKey(key.Value));
            }
            catch (RpcException ex)
            {
                refusal = ex;
            }
        }

        Assert.NotNull(refusal);
        AssertRefused(refusal, StatusCode.Unauthenticated, "TOKEN_REVOKED");
        Assert.True(clock.Elapsed <= TimeSpan.FromSeconds(1), $"the key still worked {clock.Elapsed.TotalMilliseconds:F0} ms after its delete returned");
    }

    [Fact]
    public async Task HttpClientsGetTheGatewaysJsonRefusalsAndTheirIdentity()
    {
        var (project, key) = await CreateKeyAsync("http-reader", "orders:read");
        using var http = fixture.App.CreateHttpClient("orders", "http");

        var anonymous = await http.GetAsync("/v1/orders");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("UNAUTHORIZED", (await anonymous.ReadErrorAsync()).Error);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/orders") { Headers = { { "X-API-Key", key.Value } } };
        var answer = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var body = await answer.Content.ReadFromJsonAsync<OrderListDto>();
        Assert.Equal((key.Key.Id, project.Id, "prod"), (body!.Caller.KeyId, body.Caller.ProjectId, body.Caller.Environment));
    }

    internal static void AssertRefused(RpcException refusal, StatusCode status, string reason)
    {
        Assert.Equal(status, refusal.StatusCode);
        var info = refusal.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal((reason, "keys.v1"), (info.Reason, info.Domain));
    }

    internal static Metadata WithKey(string key) => new() { { "x-api-key", key } };

    private GrpcChannel OrdersChannel() => GrpcChannel.ForAddress(fixture.App.GetEndpoint("orders", "grpc"));

    private async Task<(ProjectDto Project, CreatedKeyDto Key)> CreateKeyAsync(string name, params string[] scopes)
    {
        var admin = fixture.CreateKeyAdminClient();
        var project = await admin.CreateProjectAsync();
        var key = await KeyAdminClient.ReadAsync<CreatedKeyDto>(await admin.PostKeyAsync(project.Id, "prod", new { name, type = "secret", scopes }));
        return (project, key);
    }

    private sealed record CallerDto(string KeyId, string ProjectId, string Environment);

    private sealed record OrderListDto(IReadOnlyList<object> Orders, CallerDto Caller);
}
