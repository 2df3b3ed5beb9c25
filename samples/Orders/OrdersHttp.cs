using Keys.AspNetCore;
using Keys.Orders.Data;

namespace Keys.Orders;

/// <summary>The same list over plain HTTP: the library answers HTTP clients with the gateway's JSON refusals.</summary>
public static class OrdersHttp
{
    public static IResult List(HttpContext context, OrderBook book)
    {
        var key = context.GetApiKey()!;
        var orders = book.List(key.ProjectId, key.Environment, Grpc.OrdersApi.DefaultPageSize)
            .Select(o => new OrderView(o.Id, o.Item, o.Quantity, o.CreatedAt.ToDateTimeOffset()));
        return TypedResults.Ok(new OrderList([.. orders], new CallerView(key.KeyId, key.ProjectId, key.Environment)));
    }

    public sealed record OrderView(string Id, string Item, int Quantity, DateTimeOffset CreatedAt);

    public sealed record CallerView(string KeyId, string ProjectId, string Environment);

    public sealed record OrderList(IReadOnlyList<OrderView> Orders, CallerView Caller);
}
