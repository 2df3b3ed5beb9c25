using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Primitives;
using IPNetwork = System.Net.IPNetwork;

namespace Keys.AspNetCore.Validation;

/// <summary>
/// Where a key may be used from: a secret key's client networks (CIDRs) and a publishable key's origins, parsed once
/// per lookup and matched with no allocation. An empty list allows any; a list whose every entry is unreadable allows
/// none (fail closed), rather than reading as empty.
/// </summary>
public static class Allowlists
{
    /// <summary>
    /// The networks of <paramref name="cidrs"/>; null when there are none (any address). A bare address is its own
    /// network (/32, /128); host bits past the prefix are ignored (<c>10.1.2.3/8</c> is <c>10.0.0.0/8</c>); an IPv4
    /// network written in mapped form is read as IPv4 (<c>::ffff:203.0.113.0/120</c> is <c>203.0.113.0/24</c>); an entry
    /// that is none of these is left out.
    /// </summary>
    public static IPNetwork[]? ParseNetworks(IReadOnlyList<string> cidrs)
    {
        if (cidrs.Count == 0)
        {
            return null;
        }

        var networks = new List<IPNetwork>(cidrs.Count);
        foreach (var cidr in cidrs)
        {
            if (TryParseNetwork(cidr, out var network))
            {
                networks.Add(network);
            }
        }

        return [.. networks];
    }

    /// <summary>
    /// Whether <paramref name="client"/> is in one of <paramref name="networks"/>, compared within its family only: an
    /// IPv4-mapped IPv6 address (<c>::ffff:a.b.c.d</c>) is the IPv4 address it carries.
    /// </summary>
    public static bool Contains(IPNetwork[] networks, IPAddress? client)
    {
        if (client is null)
        {
            return false;
        }

        // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d, and the operator wrote a.b.c.d/n. IPNetwork.Contains
        // is not trusted with a mapped address: since .NET 9 it compares the mapped address's last 32 bits with an IPv6
        // network as well (dotnet/runtime#131861), so that 2001:db8::cb00:7100/120 took in 203.0.113.0/24. The IPv4
        // address is read out of the mapped one on the stack: MapToIPv4 would cost 40 B per request.
        if (client.IsIPv4MappedToIPv6)
        {
            Span<byte> bytes = stackalloc byte[16];
            return client.TryWriteBytes(bytes, out _) && ContainsIPv4(networks, BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]));
        }

        foreach (var network in networks)
        {
            if (network.BaseAddress.AddressFamily == client.AddressFamily && network.Contains(client))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The origins of <paramref name="origins"/>, without a trailing <c>/</c>; null when there are none (any origin).</summary>
    public static string[]? ParseOrigins(IReadOnlyList<string> origins) =>
        origins.Count == 0 ? null : [.. origins.Select(o => o.Trim().TrimEnd('/'))];

    /// <summary>
    /// Whether the request's one <c>Origin</c> is one of <paramref name="origins"/>: compared whole, ignoring case
    /// (scheme and host are case-insensitive; browsers send them lowercase). No Origin, several, or <c>null</c> (an
    /// opaque origin) never match.
    /// </summary>
    public static bool Allows(string[] origins, StringValues origin)
    {
        if (origin.Count != 1 || origin[0] is not { Length: > 0 } sent)
        {
            return false;
        }

        foreach (var allowed in origins)
        {
            if (string.Equals(allowed, sent, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool ContainsIPv4(IPNetwork[] networks, uint client)
    {
        Span<byte> bytes = stackalloc byte[4];
        foreach (var network in networks)
        {
            if (network.BaseAddress.AddressFamily == AddressFamily.InterNetwork && network.BaseAddress.TryWriteBytes(bytes, out _))
            {
                var mask = network.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - network.PrefixLength);
                if ((client & mask) == BinaryPrimitives.ReadUInt32BigEndian(bytes))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool TryParseNetwork(string cidr, out IPNetwork network)
    {
        network = default;
        var text = cidr.AsSpan().Trim();
        var slash = text.IndexOf('/');
        if (!IPAddress.TryParse(slash < 0 ? text : text[..slash], out var address))
        {
            return false;
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        // An IPv4 network written in mapped form (::ffff:10.0.0.0/104) is that IPv4 network (10.0.0.0/8): clients are
        // compared within their family, and an IPv4 client is IPv4 however its socket reported it. Shorter than /96 it
        // is no set of IPv4 addresses, and stays IPv6.
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
        {
            address = address.MapToIPv4();
            prefix -= 96;
        }

        // IPNetwork refuses a base address with host bits set: keep the network part only.
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }
}
