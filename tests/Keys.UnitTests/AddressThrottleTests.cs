using System.Net;
using Keys.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Keys.UnitTests;

public sealed class AddressThrottleTests
{
    private const int Limit = 3;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly AddressThrottle _throttle;

    public AddressThrottleTests() => _throttle = new AddressThrottle(Limit, Window, _time);

    [Fact]
    public void ReservationsUpToTheLimitPassAndTheNextIsRefused()
    {
        var client = IPAddress.Parse("203.0.113.7");

        Assert.All(Enumerable.Range(0, Limit), _ => Assert.True(_throttle.TryReserve(client)));
        Assert.False(_throttle.TryReserve(client));
        Assert.True(_throttle.TryReserve(IPAddress.Parse("203.0.113.8")));
    }

    [Fact]
    public void RefundedPermitCanBeReservedAgain()
    {
        var client = IPAddress.Parse("203.0.113.7");
        Exhaust(client);

        _throttle.Refund(client);

        Assert.True(_throttle.TryReserve(client));
        Assert.False(_throttle.TryReserve(client));
    }

    [Fact]
    public void RefusedReservationTakesNothing()
    {
        var client = IPAddress.Parse("203.0.113.7");
        Exhaust(client);
        Assert.False(_throttle.TryReserve(client));
        Assert.False(_throttle.TryReserve(client));

        // One refund makes room for exactly one: the refusals in between did not count.
        _throttle.Refund(client);

        Assert.True(_throttle.TryReserve(client));
        Assert.False(_throttle.TryReserve(client));
    }

    [Fact]
    public void BudgetIsWholeAgainWhenTheWindowEnds()
    {
        var client = IPAddress.Parse("203.0.113.7");
        Exhaust(client);

        _time.Advance(Window - TimeSpan.FromMilliseconds(1));
        Assert.False(_throttle.TryReserve(client));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.All(Enumerable.Range(0, Limit), _ => Assert.True(_throttle.TryReserve(client)));
        Assert.False(_throttle.TryReserve(client));
    }

    [Fact]
    public void RetryAfterIsTheWindow() => Assert.Equal(Window, _throttle.RetryAfter);

    [Fact]
    public void IPv6AddressesInOneSlash64ShareABudget()
    {
        Exhaust(IPAddress.Parse("2001:db8:1:2::1"));

        Assert.False(_throttle.TryReserve(IPAddress.Parse("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        Assert.False(_throttle.TryReserve(IPAddress.Parse("2001:db8:1:2:abcd::9")));
        Assert.True(_throttle.TryReserve(IPAddress.Parse("2001:db8:1:3::1")));
    }

    [Fact]
    public void IPv4MappedIPv6AddressIsItsIPv4Address()
    {
        Exhaust(IPAddress.Parse("198.51.100.4"));

        Assert.False(_throttle.TryReserve(IPAddress.Parse("::ffff:198.51.100.4")));
        Assert.True(_throttle.TryReserve(IPAddress.Parse("::ffff:198.51.100.5")));
    }

    [Fact]
    public void IPv4AddressesAreNotGroupedWithIPv6Ones()
    {
        // ::/64 holds both ::1 and the IPv4-mapped range; neither may share IPv4 budgets.
        Exhaust(IPAddress.IPv6Loopback);

        Assert.True(_throttle.TryReserve(IPAddress.Loopback));
        Assert.True(_throttle.TryReserve(IPAddress.Parse("0.0.0.1")));
    }

    [Fact]
    public void UnknownAddressHasABudgetOfItsOwn()
    {
        Exhaust(null);

        Assert.False(_throttle.TryReserve(null));
        Assert.True(_throttle.TryReserve(IPAddress.Any));
    }

    [Fact]
    public void AddressesBeyondTheCapShareOneOverflowBudget()
    {
        var throttle = new AddressThrottle(Limit, Window, _time, maxPartitions: 2);
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.1")));
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.2")));

        // Rotating through new addresses past the cap buys no more than one address's budget, and no memory.
        var rotated = Enumerable.Range(3, 100).Select(i => throttle.TryReserve(IPAddress.Parse($"192.0.2.{i}"))).ToList();

        Assert.Equal(Limit, rotated.Count(passed => passed));
        Assert.Equal(2, throttle.TrackedPartitions);
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void RefundOfAnOverflowPermitGoesBackToTheOverflowBudget()
    {
        var throttle = new AddressThrottle(1, Window, _time, maxPartitions: 1);
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.1")));
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.2")));
        Assert.False(throttle.TryReserve(IPAddress.Parse("192.0.2.3")));

        throttle.Refund(IPAddress.Parse("192.0.2.2"));

        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.3")));
    }

    [Fact]
    public void EndedWindowsAreSweptSoNewAddressesAreCountedApartAgain()
    {
        var throttle = new AddressThrottle(Limit, Window, _time, maxPartitions: 2);
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.1")));
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.2")));

        _time.Advance(Window);
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.3")));

        Assert.Equal(1, throttle.TrackedPartitions);
        for (var i = 1; i < Limit; i++)
        {
            Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.3")));
        }

        Assert.False(throttle.TryReserve(IPAddress.Parse("192.0.2.3")));
        Assert.True(throttle.TryReserve(IPAddress.Parse("192.0.2.4")));
    }

    [Fact]
    public void ConcurrentReservationsNeverExceedTheLimit()
    {
        var throttle = new AddressThrottle(100, Window, _time);
        var client = IPAddress.Parse("203.0.113.7");
        var passed = 0;

        Parallel.For(0, 10_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (throttle.TryReserve(client))
            {
                Interlocked.Increment(ref passed);
            }
        });

        Assert.Equal(100, passed);
    }

    [Fact]
    public void ConstructorRefusesANonsensicalBudget()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressThrottle(0, Window, _time));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressThrottle(1, TimeSpan.Zero, _time));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AddressThrottle(1, Window, _time, maxPartitions: 0));
    }

    private void Exhaust(IPAddress? client)
    {
        for (var i = 0; i < Limit; i++)
        {
            Assert.True(_throttle.TryReserve(client));
        }
    }
}
