using System.Collections.Concurrent;
using Google.Protobuf.WellKnownTypes;
using Keys.Orders.V1;

namespace Keys.Orders.Data;

/// <summary>
/// Orders in memory, apart per project and environment: a key sees only its own environment's orders. Each
/// environment starts with a few example orders, so that a first ListOrders shows something, and keeps its newest
/// <see cref="MaxPerEnvironment"/>.
/// </summary>
public sealed class OrderBook(TimeProvider time)
{
    public const int MaxPerEnvironment = 1000;

    private static readonly (string Item, int Quantity)[] Examples = [("coffee beans, 1 kg", 2), ("paper filters", 100), ("grinder", 1)];

    private readonly ConcurrentDictionary<(string Project, string Environment), Shelf> _shelves = new();

    /// <summary>The newest <paramref name="count"/> orders of an environment, newest first.</summary>
    public IReadOnlyList<Order> List(string project, string environment, int count)
    {
        var shelf = ShelfOf(project, environment);
        lock (shelf)
        {
            return [.. shelf.Orders.TakeLast(count).Reverse()];
        }
    }

    public Order Add(string project, string environment, string item, int quantity, Caller caller)
    {
        var order = NewOrder(item, quantity);
        order.Caller = caller;
        var shelf = ShelfOf(project, environment);
        lock (shelf)
        {
            shelf.Orders.Add(order);
            if (shelf.Orders.Count > MaxPerEnvironment)
            {
                shelf.Orders.RemoveAt(0);
            }
        }

        return order;
    }

    private Shelf ShelfOf(string project, string environment) =>
        _shelves.GetOrAdd((project, environment), static (_, book) => new Shelf([.. Examples.Select(e => book.NewOrder(e.Item, e.Quantity))]), this);

    private Order NewOrder(string item, int quantity) => new()
    {
        Id = "ord_" + Guid.NewGuid().ToString("N")[..20],
        Item = item,
        Quantity = quantity,
        CreatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
    };

    private sealed record Shelf(List<Order> Orders);
}
