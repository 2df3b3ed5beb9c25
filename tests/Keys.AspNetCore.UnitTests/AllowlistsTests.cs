using System.Net;
using Keys.AspNetCore.Validation;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// Matching a client's address against a key's networks (IPv4, IPv6, IPv4-mapped IPv6 as dual-stack sockets report
/// IPv4 clients) and reading the lists as KeyAdmin stores them; an unreadable list allows nobody rather than everybody.
/// </summary>
public sealed class AllowlistsTests
{
    [Fact]
    public void EmptyListIsNoRestrictionAtAll() => Assert.Null(Allowlists.ParseNetworks([]));

    [Theory]
    [InlineData("203.0.113.0/24", "203.0.113.0", true)]
    [InlineData("203.0.113.0/24", "203.0.113.255", true)]
    [InlineData("203.0.113.0/24", "203.0.114.0", false)]
    [InlineData("203.0.112.255/32", "203.0.112.255", true)]
    [InlineData("0.0.0.0/0", "198.51.100.1", true)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("::1/128", "::1", true)]
    public void AddressMatchesTheNetworksItIsIn(string cidr, string client, bool allowed) =>
        Assert.Equal(allowed, Allowlists.Contains(Allowlists.ParseNetworks([cidr])!, IPAddress.Parse(client)));

    [Theory]
    [InlineData("::ffff:203.0.113.9", true)]
    [InlineData("::ffff:203.0.114.9", false)]
    public void IPv4MappedIPv6AddressMatchesIPv4Networks(string client, bool allowed) =>
        Assert.Equal(allowed, Allowlists.Contains(Allowlists.ParseNetworks(["203.0.113.0/24"])!, IPAddress.Parse(client)));

    [Fact]
    public void IPv4AddressMatchesAnIPv6NetworkWrittenInMappedForm() =>
        Assert.True(Allowlists.Contains(Allowlists.ParseNetworks(["::ffff:203.0.113.0/120"])!, IPAddress.Parse("203.0.113.9")));

    [Fact]
    public void IPv4AddressNeverMatchesAPlainIPv6NetworkNorTheReverse()
    {
        Assert.False(Allowlists.Contains(Allowlists.ParseNetworks(["::/0"])!, IPAddress.Parse("203.0.113.9")));
        Assert.False(Allowlists.Contains(Allowlists.ParseNetworks(["0.0.0.0/0"])!, IPAddress.Parse("2001:db8::1")));
    }

    // Kestrel's dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d. An IPv6 network whose last 32 bits spell
    // an IPv4 network (2001:db8::cb00:7100/120 ends in 203.0.113.0/24) must not take it in: the families differ.
    [Theory]
    [InlineData("2001:db8::cb00:7100/120", "::ffff:203.0.113.9")]
    [InlineData("2001:db8::/32", "::ffff:203.0.113.9")]
    [InlineData("::/0", "::ffff:203.0.113.9")]
    [InlineData("::cb00:7100/120", "::ffff:203.0.113.9")]
    [InlineData("64:ff9b::cb00:7100/120", "::ffff:203.0.113.9")]
    public void IPv4ClientOnADualStackSocketNeverMatchesAnIPv6OnlyNetwork(string cidr, string client) =>
        Assert.False(Allowlists.Contains(Allowlists.ParseNetworks([cidr])!, IPAddress.Parse(client)));

    [Theory]
    [InlineData("::ffff:203.0.113.0/120", "::ffff:203.0.113.9", true)]
    [InlineData("::ffff:203.0.113.0/120", "203.0.113.9", true)]
    [InlineData("::ffff:203.0.113.0/120", "::ffff:203.0.114.9", false)]
    [InlineData("::ffff:0.0.0.0/96", "::ffff:198.51.100.1", true)]
    [InlineData("::ffff:0.0.0.0/96", "198.51.100.1", true)]
    [InlineData("::ffff:0.0.0.0/96", "2001:db8::1", false)]
    [InlineData("::ffff:203.0.113.9", "::ffff:203.0.113.9", true)]
    [InlineData("::ffff:203.0.113.9", "203.0.113.10", false)]
    public void NetworkWrittenInMappedFormIsTheIPv4NetworkItSpells(string cidr, string client, bool allowed) =>
        Assert.Equal(allowed, Allowlists.Contains(Allowlists.ParseNetworks([cidr])!, IPAddress.Parse(client)));

    [Theory]
    [InlineData("::ffff:203.0.113.0/120", "203.0.113.0/24")]
    [InlineData("::ffff:0.0.0.0/96", "0.0.0.0/0")]
    [InlineData("::ffff:10.1.2.3/104", "10.0.0.0/8")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9/32")]
    public void MappedFormNetworkIsReadAsItsIPv4Network(string cidr, string expected) =>
        Assert.Equal(expected, Allowlists.ParseNetworks([cidr])!.Single().ToString());

    [Fact]
    public void MappedFormNetworkShorterThan96BitsIsAnIPv6NetworkAndMatchesNoIPv4Client()
    {
        // Without its host bits ::ffff:0.0.0.0/80 is ::/80: not the mapped block, and no set of IPv4 addresses.
        var networks = Allowlists.ParseNetworks(["::ffff:0.0.0.0/80"])!;

        Assert.False(Allowlists.Contains(networks, IPAddress.Parse("203.0.113.9")));
        Assert.False(Allowlists.Contains(networks, IPAddress.Parse("::ffff:203.0.113.9")));
    }

    [Theory]
    [InlineData("::ffff:203.0.113.9")]
    [InlineData("203.0.113.9")]
    [InlineData("2001:db8::cb00:7109")]
    public void MatchingAClientAllocatesNothing(string client)
    {
        var networks = Allowlists.ParseNetworks(["2001:db8::cb00:7100/120", "198.51.100.0/24", "::ffff:192.0.2.0/120", "203.0.113.0/24"])!;
        var address = IPAddress.Parse(client);
        Assert.True(Allowlists.Contains(networks, address));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Allowlists.Contains(networks, address);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void NoAddressMatchesNothing() =>
        Assert.False(Allowlists.Contains(Allowlists.ParseNetworks(["0.0.0.0/0", "::/0"])!, null));

    [Fact]
    public void BareAddressIsANetworkOfOneAddress()
    {
        var networks = Allowlists.ParseNetworks(["203.0.113.7", "2001:db8::7"])!;

        Assert.True(Allowlists.Contains(networks, IPAddress.Parse("203.0.113.7")));
        Assert.False(Allowlists.Contains(networks, IPAddress.Parse("203.0.113.8")));
        Assert.True(Allowlists.Contains(networks, IPAddress.Parse("2001:db8::7")));
        Assert.False(Allowlists.Contains(networks, IPAddress.Parse("2001:db8::8")));
    }

    [Fact]
    public void HostBitsPastThePrefixAreIgnored()
    {
        var networks = Allowlists.ParseNetworks(["10.1.2.3/8", "2001:db8::1/32"])!;

        Assert.True(Allowlists.Contains(networks, IPAddress.Parse("10.200.0.1")));
        Assert.True(Allowlists.Contains(networks, IPAddress.Parse("2001:db8:abcd::1")));
    }

    [Fact]
    public void UnreadableEntriesAreLeftOutAndAListOfNothingButThemAllowsNobody()
    {
        var some = Allowlists.ParseNetworks(["not-a-network", "10.0.0.0/33", "10.0.0.0/8"])!;
        var none = Allowlists.ParseNetworks(["not-a-network", "10.0.0.0/-1", "2001:db8::/129"]);

        Assert.Single(some);
        Assert.True(Allowlists.Contains(some, IPAddress.Parse("10.0.0.1")));
        Assert.NotNull(none);
        Assert.Empty(none);
        Assert.False(Allowlists.Contains(none, IPAddress.Parse("10.0.0.1")));
    }

    [Fact]
    public void EmptyOriginListIsNoRestrictionAndOriginsLoseATrailingSlash()
    {
        Assert.Null(Allowlists.ParseOrigins([]));
        Assert.Equal(["https://app.example.com", "http://localhost:3000"], Allowlists.ParseOrigins(["https://app.example.com/", " http://localhost:3000 "])!);
    }
}
