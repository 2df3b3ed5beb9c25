using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Keys.ApiKeys;
using Keys.AspNetCore;
using Keys.Orders.Data;
using Keys.Orders.V1;
using Microsoft.AspNetCore.Authorization;

namespace Keys.Orders.Grpc;

/// <summary>
/// The Orders service. Keys.AspNetCore has authenticated the call's key and checked the scope each method names before
/// a method runs; a method only reads who called.
/// </summary>
public sealed class OrdersApi(OrderBook book) : V1.Orders.OrdersBase
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 100;
    public const int MaxItemLength = 100;
    public const int MaxQuantity = 1000;

    [Authorize(Policy = "orders:read")]
    public override Task<ListOrdersResponse> ListOrders(ListOrdersRequest request, ServerCallContext context)
    {
        var caller = CallerOf(context);
        var response = new ListOrdersResponse { Caller = caller };
        response.Orders.Add(book.List(caller.ProjectId, caller.Environment, PageSize(request)));
        return Task.FromResult(response);
    }

    [Authorize(Policy = "orders:create")]
    public override Task<Order> CreateOrder(CreateOrderRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Item) || request.Item.Length > MaxItemLength)
        {
            throw Invalid("ITEM_INVALID", $"item must be 1 to {MaxItemLength} characters.");
        }

        if (request.Quantity is < 1 or > MaxQuantity)
        {
            throw Invalid("QUANTITY_INVALID", $"quantity must be 1 to {MaxQuantity}.");
        }

        var caller = CallerOf(context);
        return Task.FromResult(book.Add(caller.ProjectId, caller.Environment, request.Item.Trim(), request.Quantity, caller));
    }

    internal static int PageSize(ListOrdersRequest request) =>
        request.PageSize <= 0 ? DefaultPageSize : Math.Min(request.PageSize, MaxPageSize);

    /// <summary>Who called, as the key proved it.</summary>
    internal static Caller CallerOf(ServerCallContext context)
    {
        var key = context.GetHttpContext().GetApiKey()
            ?? throw new InvalidOperationException("Orders methods run only for calls authenticated by an API key.");
        var caller = new Caller { KeyId = key.KeyId, ProjectId = key.ProjectId, Environment = key.Environment, KeyType = key.Type.ToName() };
        caller.Scopes.Add(key.Scopes);
        return caller;
    }

    private static RpcException Invalid(string reason, string message) => new Google.Rpc.Status
    {
        Code = (int)Code.InvalidArgument,
        Message = message,
        Details = { Any.Pack(new ErrorInfo { Reason = reason, Domain = "orders.v1" }) },
    }.ToRpcException();
}

/// <summary>
/// ListOrders with no key check, for the benchmark: the same work on an environment of its own, and an answer of the
/// same size (a stand-in caller as long as a real one), so that the difference is the check alone.
/// </summary>
public sealed class OrdersBaselineApi(OrderBook book) : OrdersBaseline.OrdersBaselineBase
{
    private static readonly Caller StandIn = new()
    {
        KeyId = "key_baselinebaselinebaseli",
        ProjectId = "prj_baselinebaselinebaseli",
        Environment = "prod",
        KeyType = "secret",
    };

    public override Task<ListOrdersResponse> ListOrders(ListOrdersRequest request, ServerCallContext context)
    {
        var caller = StandIn.Clone();
        var response = new ListOrdersResponse { Caller = caller };
        response.Orders.Add(book.List("", "", OrdersApi.PageSize(request)));
        return Task.FromResult(response);
    }
}
