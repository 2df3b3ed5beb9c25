using System.Security.Cryptography;
using System.Text;
using Grpc.Core;

namespace Keys.ServiceAuth;

/// <summary>
/// Bearer tokens as the interceptors compare them: as SHA-256 digests, so that the comparison
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>) takes the same time whatever the length presented.
/// </summary>
public static class BearerToken
{
    private const string Scheme = "Bearer ";

    public static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>
    /// Writes the digest of the call's <c>Authorization: Bearer …</c> token into <paramref name="digest"/>
    /// (<see cref="SHA256.HashSizeInBytes"/> bytes); false when the call carries no bearer token.
    /// </summary>
    public static bool TryDigest(Metadata requestHeaders, Span<byte> digest)
    {
        if (!TryRead(requestHeaders, out var token))
        {
            return false;
        }

        Digest(token, digest);
        return true;
    }

    /// <summary>The call's <c>Authorization: Bearer …</c> token; false when it carries none.</summary>
    public static bool TryRead(Metadata requestHeaders, out ReadOnlySpan<char> token)
    {
        var header = requestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            token = default;
            return false;
        }

        token = header.AsSpan(Scheme.Length).Trim();
        return true;
    }

    /// <summary>Writes the SHA-256 of the token's UTF-8 into <paramref name="digest"/> (<see cref="SHA256.HashSizeInBytes"/> bytes).</summary>
    public static void Digest(ReadOnlySpan<char> token, Span<byte> digest)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(token.Length);
        var utf8 = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(token, utf8)], digest);
    }
}
