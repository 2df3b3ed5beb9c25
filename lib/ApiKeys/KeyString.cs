using System.IO.Hashing;
using System.Security.Cryptography;

namespace Keys.ApiKeys;

/// <summary>
/// The key string: <c>pk_</c> or <c>sk_</c>, a 43-char base62 body holding 256 random bits, and a 6-char base62
/// CRC-32 of prefix and body. The checksum lets the gateway and secret scanners reject typos and garbage offline.
/// </summary>
public static class KeyString
{
    public const string PublishablePrefix = "pk_";
    public const string SecretPrefix = "sk_";
    public const int PrefixLength = 3;
    public const int BodyLength = 43;
    public const int ChecksumLength = 6;
    public const int Length = PrefixLength + BodyLength + ChecksumLength;

    private const int RandomBytes = 32;

    public static string Generate(ApiKeyType type) => Generate(PrefixOf(type));

    /// <summary>
    /// Checks length, prefix, alphabet and checksum without allocating, so garbage costs no I/O anywhere.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> key, out ApiKeyType type)
    {
        type = default;
        if (key.Length != Length)
        {
            return false;
        }

        if (key.StartsWith(PublishablePrefix, StringComparison.Ordinal))
        {
            type = ApiKeyType.Publishable;
        }
        else if (key.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            type = ApiKeyType.Secret;
        }
        else
        {
            return false;
        }

        if (!HasValidBodyAndChecksum(key))
        {
            type = default;
            return false;
        }

        return true;
    }

    public static bool IsWellFormed(ReadOnlySpan<char> key) => TryParse(key, out _);

    /// <summary>The form shown wherever a secret key's value may not be: <c>sk_Ab3d…x9Qz</c>.</summary>
    public static string Mask(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != Length)
        {
            throw new ArgumentException("Not a key of the Keys format.", nameof(key));
        }

        return string.Concat(key.AsSpan(0, PrefixLength + 4), "…", key.AsSpan(Length - 4));
    }

    /// <summary>A new string of this format with <paramref name="prefix"/> (three characters): 256 random bits and the checksum.</summary>
    internal static string Generate(string prefix)
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        RandomNumberGenerator.Fill(random);
        var prefixAndBody = prefix + Base62.Encode(random, BodyLength);
        return prefixAndBody + Base62.Encode(Checksum(prefixAndBody), ChecksumLength);
    }

    /// <summary>Whether a string of <see cref="Length"/> characters has a base62 body and the checksum of its prefix and body.</summary>
    internal static bool HasValidBodyAndChecksum(ReadOnlySpan<char> value)
    {
        var prefixAndBody = value[..(PrefixLength + BodyLength)];
        foreach (var c in prefixAndBody[PrefixLength..])
        {
            if (Base62.DigitValue(c) < 0)
            {
                return false;
            }
        }

        return Base62.TryDecode(value[(PrefixLength + BodyLength)..], out var checksum) && checksum == Checksum(prefixAndBody);
    }

    internal static uint Checksum(ReadOnlySpan<char> prefixAndBody)
    {
        Span<byte> ascii = stackalloc byte[PrefixLength + BodyLength];
        for (var i = 0; i < prefixAndBody.Length; i++)
        {
            ascii[i] = (byte)prefixAndBody[i];
        }

        return Crc32.HashToUInt32(ascii[..prefixAndBody.Length]);
    }

    private static string PrefixOf(ApiKeyType type) => type switch
    {
        ApiKeyType.Publishable => PublishablePrefix,
        ApiKeyType.Secret => SecretPrefix,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
